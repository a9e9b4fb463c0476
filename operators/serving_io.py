"""The closed loop: model.load (a registered model as a flow input) and import.serving_log
(the service's logged predictions joined with the true outcomes sent as feedback)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from typing import Any

from engine.opapi import Operator, OperatorError, Param, Port, RunContext, model_name_problem


class ModelLoad(Operator):
    id = "model.load"
    version = 1
    category = "Deploy"
    title = "Registered model"
    description = (
        "A model from the workspace registry as a flow input — the production version of a "
        "name, or a given version — for batch scoring with predict. Looked up on every run (a "
        "promotion changes what it loads)."
    )
    outputs = (Port("model", "model", "The model bundle."),)
    params = (
        Param(
            "name",
            "string",
            "The registered model's name.",
            required=True,
            min_length=1,
            widget="text",
        ),
        Param(
            "version",
            "integer",
            "A version number (not set: the production version).",
            nullable=True,
            minimum=1,
            widget="number",
        ),
    )

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        return params.get("version") is not None

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = model_name_problem(f"The 'name' parameter of {self.id}", params.get("name"))
        return [("name", problem)] if problem else []

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        version, path = ctx.registered_model(params["name"], params.get("version"))
        folder = ctx.artifact_dir("model")
        shutil.copytree(path, folder, dirs_exist_ok=True)
        ctx.log(f"loaded {params['name']} version {version}")
        ctx.set_metrics({"version": version})
        return {"model": folder}


class ImportServingLog(Operator):
    id = "import.serving_log"
    version = 1
    category = "Data"
    title = "Serving log"
    description = (
        "The predictions the scoring service made for a model, one row per scored instance with "
        "its input columns, score, prediction, model version and time, joined with the true "
        "outcome sent to the :feedback endpoint (column `label`; the latest feedback wins). The "
        "way back from production into training. Reread on every run. Predictions a shadow "
        "version made are not included. When a retraining policy runs the flow, the newest "
        "labeled window is held out by itself (the champion and the challenger are compared on "
        "it); `holdout_after` sets such a cut by hand."
    )
    outputs = (Port("out", "table", "Logged predictions with their outcomes."),)
    params = (
        Param("model", "string", "The model's name.", required=True, min_length=1, widget="text"),
        Param(
            "only_labeled",
            "boolean",
            "Keep only predictions that received feedback.",
            default=True,
            widget="checkbox",
        ),
        Param(
            "holdout_after",
            "string",
            "Leave out predictions logged at or after this time (ISO 8601, UTC unless it says "
            "otherwise, e.g. 2026-03-01T12:00:00Z). Not set: everything, except that a run "
            "started by a retraining policy holds out the newest labeled window (the rows the "
            "challenger is judged on).",
            nullable=True,
            widget="text",
        ),
    )

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        return False

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = []
        problem = model_name_problem(f"The 'model' parameter of {self.id}", params.get("model"))
        if problem:
            problems.append(("model", problem))
        cut = params.get("holdout_after")
        if cut is not None and parse_time(cut) is None:
            problems.append(
                (
                    "holdout_after",
                    f"The 'holdout_after' parameter of {self.id} must be an ISO 8601 time such as "
                    f"2026-03-01T12:00:00Z. Got {str(cut)[:40]!r}.",
                )
            )
        return problems

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        import pyarrow.parquet as pq

        where = ctx.where
        problem = model_name_problem(f"The 'model' parameter of {where}", params["model"])
        if problem:
            raise OperatorError(problem)
        folder = (ctx.workspace_dir or ctx.flow_dir) / "logs" / "serving" / params["model"]
        if not folder.is_dir():
            raise OperatorError(
                f'{where}: the service has logged nothing for "{params["model"]}" yet ({folder}).'
            )
        cut_text = params.get("holdout_after") or ctx.serving_log_holdout(params["model"])
        cut = parse_time(cut_text) if cut_text else None
        log = _LogReader(folder)
        rows = log.rows(log.labels(), cut, params["only_labeled"])
        if log.skipped:
            ctx.log(f"skipped {log.skipped:,} malformed log records", "warning")
        if cut is not None:
            ctx.log(
                f"held out {log.held_out:,} predictions logged at or after {cut_text} "
                "(the newest window, kept for judging the model trained here)"
            )
        if not rows:
            raise OperatorError(
                f'{where}: no logged prediction of "{params["model"]}" '
                f"{'has feedback yet' if params['only_labeled'] else 'was found'}."
            )
        out = ctx.table_dir("out")
        pq.write_table(_table(rows), out / "part-00000.parquet")
        ctx.log(
            f"{len(rows):,} logged predictions, {sum(r['label'] is not None for r in rows):,} with feedback"
        )
        return {"out": out}


class _LogReader:
    """A model's request log read as rows: predictions joined with their feedback. A line cut
    short by a crash or a full disk, or one of an unexpected shape, is skipped and counted
    rather than failing the node."""

    def __init__(self, folder: Any):
        self.folder = folder
        self.skipped = 0
        self.held_out = 0

    def records(self, pattern: str) -> Any:
        for path in sorted(self.folder.glob(pattern)):
            for line in path.read_text("utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    self.skipped += 1
                    continue
                if isinstance(rec, dict):
                    yield rec
                else:
                    self.skipped += 1

    def labels(self) -> dict[str, Any]:
        """Prediction id -> label (the latest feedback wins)."""
        labels: dict[str, Any] = {}
        for rec in self.records("feedback-*.jsonl"):
            if isinstance(rec.get("id"), str) and "label" in rec:
                labels[rec["id"]] = rec["label"]
            else:
                self.skipped += 1
        return labels

    def rows(
        self, labels: Mapping[str, Any], cut: float | None, only_labeled: bool
    ) -> list[dict[str, Any]]:
        """One row per logged instance; predictions at or after ``cut`` are held out."""
        rows = []
        for rec in self.records("predictions-*.jsonl"):
            if rec.get("shadow"):  # a shadow version's scores: the champion's rows carry them
                continue
            try:
                pairs = list(zip(rec["instances"], rec["predictions"], strict=True))
                request_id, version, ts = rec["request_id"], rec["version"], rec["ts"]
            except (KeyError, TypeError, ValueError):
                self.skipped += 1
                continue
            if cut is not None and isinstance(ts, (int, float)) and ts >= cut:
                self.held_out += len(pairs)
                continue
            for i, (inst, pred) in enumerate(pairs):
                pid = f"{request_id}/{i}"
                if only_labeled and pid not in labels:
                    continue
                if not isinstance(inst, dict) or not isinstance(pred, dict):
                    self.skipped += 1
                    continue
                rows.append(
                    {
                        **inst,
                        "prediction_id": pid,
                        "model_version": version,
                        "ts": ts,
                        "score": pred.get("score"),
                        "prediction": pred.get("prediction"),
                        "label": labels.get(pid),
                    }
                )
        return rows


def parse_time(text: Any) -> float | None:
    """An ISO 8601 time as seconds since the epoch (UTC when it names no zone), else None."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _table(rows: list[dict[str, Any]]) -> Any:
    """An Arrow table of logged rows whose columns may mix types (a client that sent "42" once
    and 42 otherwise): each column takes one type — bool, int, float or, when its values
    disagree, string — so one odd record never breaks the loop's input."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            columns.setdefault(key, [None] * len(rows))[i] = value
    arrays, names = [], []
    for name, values in columns.items():
        kinds = {_kind(v) for v in values if v is not None}
        if kinds <= {"bool"}:
            typ = pa.bool_()
        elif kinds <= {"int"}:
            typ = pa.int64()
        elif kinds <= {"int", "float"}:
            typ = pa.float64()
        else:
            typ = pa.string()
            values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
        arrays.append(pa.array(values, type=typ))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "other"
    if isinstance(value, float):
        return "float"
    return "other"
