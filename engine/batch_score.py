"""`seer score NAME INPUT OUTPUT`: batch scoring of a file or folder with a registered model.

It runs a small flow — `model.load` (the production version of NAME, or a given version),
`import.csv`/`import.parquet`, `predict` (the bundle applies its own feature transform, on
Spark, exactly as the scoring service does row by row), `export.csv`/`export.parquet` — so it
scales like any flow and its runs show in `seer runs`. With reasons asked for, each row's top
contributing features are added as a JSON text column `reasons`, computed on the executors
with the service's own explainer.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dataroots import DataRoots
from engine.flow import FlowError, parse_flow, prepare_flow
from engine.registry import load_registry
from engine.runner import NodeEvent, Runner, RunOptions, RunResult
from engine.workspace import Workspace

FORMATS = {".csv": "csv", ".parquet": "parquet"}


class ScoreError(ValueError):
    """A request `seer score` cannot carry out, said as a sentence."""


@dataclass
class ScoreJob:
    name: str
    input: Path
    output: Path
    version: int | None = None
    master: str | None = None
    reasons: bool = False
    output_format: str | None = None


def file_format(path: Path, what: str, given: str | None = None) -> str:
    """csv or parquet: from ``given``, the suffix, or (for an input folder) the files inside;
    an output folder is written in ``given`` (the input's format unless --format says)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    if given:
        return given
    if what == "input" and path.is_dir():
        found = {FORMATS[p.suffix.lower()] for p in path.iterdir() if p.suffix.lower() in FORMATS}
        if len(found) == 1:
            return found.pop()
    raise ScoreError(
        f"Cannot tell the format of the {what} {path}: name a .csv or .parquet file, a folder of "
        "them, or say --format csv|parquet."
    )


def _flow(job: ScoreJob, in_fmt: str, out_fmt: str, target: Path | None) -> str:
    load = {"name": job.name, "version": job.version}
    nodes: list[dict[str, Any]] = [
        {"id": "model", "op": "model.load", "params": load},
        {"id": "data", "op": f"import.{in_fmt}", "params": {"path": str(job.input)}},
        {"id": "predict", "op": "predict", "params": {}},
    ]
    links = [
        {"from": {"node": "model", "port": "model"}, "to": {"node": "predict", "port": "model"}},
        {"from": {"node": "data", "port": "out"}, "to": {"node": "predict", "port": "data"}},
    ]
    if target is not None:
        nodes.append({"id": "write", "op": f"export.{out_fmt}", "params": {"path": str(target)}})
        links.append(
            {"from": {"node": "predict", "port": "out"}, "to": {"node": "write", "port": "in"}}
        )
    return json.dumps({"seer_flow": 1, "name": f"score {job.name}", "nodes": nodes, "links": links})


def run_score(
    ws: Workspace, job: ScoreJob, progress: Callable[[NodeEvent], None] | None = None
) -> RunResult:
    """Score ``job.input`` into ``job.output``; raises ScoreError for bad input."""
    in_fmt = file_format(job.input, "input")
    out_fmt = file_format(job.output, "output", job.output_format or in_fmt)
    if not job.input.exists():
        raise ScoreError(f"The input {job.input} does not exist.")
    roots = DataRoots.for_flow(None, ws.root, [job.input.parent, job.output.parent])
    text = _flow(job, in_fmt, out_fmt, None if job.reasons else job.output)
    try:
        prepared = prepare_flow(parse_flow(text), load_registry(), None, None, roots)
    except FlowError as err:
        raise ScoreError("; ".join(p.message for p in err.problems)) from None
    runner = Runner(ws, listeners=[progress] if progress else [])
    result = runner.run(prepared, RunOptions(master=job.master, keep="all"))
    if result.status == "succeeded" and job.reasons:
        _write_with_reasons(ws, result, job, out_fmt)
    return result


def _write_with_reasons(ws: Workspace, result: RunResult, job: ScoreJob, out_fmt: str) -> None:
    from pyspark.sql.types import StringType, StructField, StructType

    from engine.spark import get_spark

    scored = result.nodes["predict"].outputs["out"]["path"]
    bundle = str(result.nodes["model"].outputs["model"]["path"])
    spark = get_spark(job.master, ws.spark_local_dir, ws.logs_dir)
    df = spark.read.parquet(str(scored))
    schema = StructType([*df.schema.fields, StructField("reasons", StringType())])
    out = df.mapInPandas(_explainer(bundle), schema)
    _write(out, job.output, out_fmt)


def _explainer(bundle: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    def explain(batches: Iterator[Any]) -> Iterator[Any]:
        from engine.serving.scoring import LoadedModel

        model = LoadedModel("batch", 0, bundle)
        for frame in batches:
            rows = [_plain(r) for r in frame.to_dict("records")]
            frame["reasons"] = [json.dumps(r, default=str) for r in model.explain_rows(rows)]
            yield frame

    return explain


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A pandas record as the service sees a JSON row: NaN/NaT as null, dates as ISO text."""
    out = {}
    for k, v in row.items():
        if v is None or (isinstance(v, float) and v != v) or str(v) == "NaT":
            out[k] = None
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif hasattr(v, "item"):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def _write(df: Any, output: Path, fmt: str) -> None:
    """Written under a temporary name, then renamed: one file for a .csv/.parquet path, else a
    folder of part files."""
    single = output.suffix.lower() in FORMATS
    tmp = output.parent / f".{output.name}.{uuid.uuid4().hex[:8]}.tmp"
    writer = (df.coalesce(1) if single else df).write.mode("overwrite")
    if fmt == "csv":
        writer.option("header", "true").option("escape", '"').csv(str(tmp))
    else:
        writer.parquet(str(tmp))
    if output.is_dir():
        shutil.rmtree(output)
    elif output.exists():
        output.unlink()
    if single:
        (part,) = [p for p in tmp.iterdir() if p.name.startswith("part-")]
        part.rename(output)
        shutil.rmtree(tmp)
    else:
        tmp.rename(output)
