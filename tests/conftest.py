from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# the shared data sets are a data root of every flow the tests run (their files are read in
# place, never copied into a workspace)
os.environ["SEER_DATA_ROOTS"] = os.pathsep.join(
    p for p in (os.environ.get("SEER_DATA_ROOTS", ""), str(SHARED_DATA)) if p
)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One local SparkSession for the whole test session (the engine's own singleton)."""
    os.environ.setdefault("SEER_DRIVER_MEMORY", "2g")
    from engine.spark import get_spark

    return get_spark("local[2]", tmp_path_factory.mktemp("spark-local"))


@pytest.fixture()
def workspace(tmp_path: Path) -> Any:
    from engine.workspace import Workspace

    return Workspace(tmp_path / "ws")


def write_flow(
    folder: Path,
    nodes: list[dict],
    links: list[tuple[str, str]] | list[dict],
    params: dict | None = None,
    name: str = "test",
) -> Path:
    """Write a flow file; links may be given as ("node.port", "node.port") pairs."""
    link_objs = []
    for lk in links:
        if isinstance(lk, dict):
            link_objs.append(lk)
            continue
        (a, ap), (b, bp) = lk[0].split("."), lk[1].split(".")
        link_objs.append({"from": {"node": a, "port": ap}, "to": {"node": b, "port": bp}})
    doc: dict[str, Any] = {"seer_flow": 1, "name": name, "nodes": nodes, "links": link_objs}
    if params:
        doc["params"] = params
    path = folder / f"{name}.flow.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def run_flow(path: Path, ws: Any, overrides: dict[str, str] | None = None, **options: Any) -> Any:
    from engine.dataroots import DataRoots
    from engine.flow import load_flow, prepare_flow
    from engine.runner import Runner, RunOptions

    roots = DataRoots.for_flow(Path(path).resolve().parent, ws.root)
    prepared = prepare_flow(load_flow(path), overrides=overrides, roots=roots)
    events: list[Any] = []
    result = Runner(ws, listeners=[events.append]).run(prepared, RunOptions(**options))
    result.events = events
    return result


def seer_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> Any:
    """Run the installed `seer` command in a fresh process, as a user would."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).parent / "seer"
    return subprocess.run(
        [str(exe), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_op(ws: Any, folder: Path, op: str, params: dict, inputs: dict[str, Any]) -> Any:
    """Run one operator on DataFrames (written to Parquet and imported); returns the run result
    with ``frames``: each output table as a pandas DataFrame."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    nodes: list[dict] = []
    links: list[tuple[str, str]] = []
    for port, df in inputs.items():
        src = folder / f"input_{port}.parquet"
        df.write.mode("overwrite").parquet(str(src))
        nodes.append({"id": f"in_{port}", "op": "import.parquet", "params": {"path": str(src)}})
        links.append((f"in_{port}.out", f"node.{port}"))
    nodes.append({"id": "node", "op": op, "params": params})
    result = run_flow(write_flow(folder, nodes, links, name="op"), ws)
    node = result.nodes["node"]
    result.frames = {
        port: pq.read_table(out["path"]).to_pandas()
        for port, out in node.outputs.items()
        if out["type"] == "table"
    }
    result.node = node
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep each phase's report on the test item (the browser tests screenshot failures)."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
