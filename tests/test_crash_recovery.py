"""A `seer run` killed with SIGKILL at several points: the next opening of the workspace marks
the run interrupted and removes what it left half-written; a rerun gives the same outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import run_flow, seer_cli, write_flow

ROWS = 200_000
# what a half-finished write looks like: Seer's temporary names (".<name>.<tag>-<hex>...") and
# Spark's own "_temporary" folders
LEFTOVER = re.compile(r"^\..+\.(tmp|old|staging|publish|seer)-[0-9a-f]+|^_temporary$")


def _flow(folder: Path) -> Path:
    return write_flow(
        folder,
        [
            {
                "id": "gen",
                "op": "import.sample",
                "params": {"dataset": "credit_risk", "rows": ROWS, "seed": 7},
            },
            {"id": "save", "op": "export.csv", "params": {"path": str(folder / "out/loans.csv")}},
        ],
        [("gen.out", "save.in")],
        name="loans",
    )


def _leftovers(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                if LEFTOVER.match(name):
                    found.append(str(Path(dirpath) / name))
    return sorted(found)


def _runs_db(ws: Path) -> list[dict]:
    if not (ws / "seer.db").exists():
        return []
    with sqlite3.connect(f"file:{ws / 'seer.db'}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM node_runs")]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


def _node_running(node: str) -> Callable[[Path, Path], bool]:
    def ready(ws: Path, out: Path) -> bool:
        running = any(r["node_id"] == node and r["status"] == "running" for r in _runs_db(ws))
        # the node has started writing (its scratch folder exists)
        return running and any(ws.glob(f"runs/*/{node}/.*"))

    return ready


def _writing_output(ws: Path, out: Path) -> bool:
    return any(ws.glob("runs/*/gen/.out.parquet.*/_temporary"))


def _exporting(ws: Path, out: Path) -> bool:
    return any(out.glob(".loans.csv.*/_temporary"))


KILL_POINTS = {
    "node running": _node_running("gen"),
    "writing node output": _writing_output,
    "exporting": _exporting,
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> bytes:
    """The exported file of an uninterrupted run (in this process: its Spark is shared)."""
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("reference")
    assert run_flow(_flow(folder), Workspace(folder / "ws")).status == "succeeded"
    return (folder / "out/loans.csv").read_bytes()


def _kill_when(flow: Path, ws: Path, out: Path, ready: Callable[[Path, Path], bool]) -> None:
    exe = Path(sys.executable).parent / "seer"
    proc = subprocess.Popen(
        [str(exe), "run", str(flow), "--workspace", str(ws)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    try:
        while not ready(ws, out):
            assert proc.poll() is None, f"the run ended before the kill point: {proc.stderr}"
            assert time.time() < deadline, "the kill point never came"
            time.sleep(0.02)
        tree = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    # the Spark JVM notices its parent is gone and ends on its own
    _, alive = psutil.wait_procs(tree, timeout=60)
    assert not alive, f"processes of the killed run still alive: {alive}"


@pytest.mark.spark
@pytest.mark.slow
def test_a_killed_run_is_interrupted_cleaned_and_reruns_identically(
    tmp_path: Path, reference: bytes
) -> None:
    """One workspace, killed at each point in turn (each kill's run starts where the previous
    one left off), then a run to the end."""
    from engine.workspace import Workspace

    flow, ws, out = _flow(tmp_path), tmp_path / "ws", tmp_path / "out"
    interrupted: list[str] = []
    for point, ready in KILL_POINTS.items():
        _kill_when(flow, ws, out, ready)
        assert _leftovers(ws, out), f"{point}: nothing half-written, the kill tests nothing"

        opened = Workspace(ws)
        runs = opened.store.list_runs()  # opening the workspace recovers
        assert runs[0]["status"] == "interrupted", point
        interrupted.append(runs[0]["run_id"])
        nodes = {n["node_id"]: n["status"] for n in opened.store.node_runs(runs[0]["run_id"])}
        assert "interrupted" in nodes.values(), (point, nodes)
        assert not {"running", "queued"} & set(nodes.values()), (point, nodes)
        assert _leftovers(ws, out) == [], point
        assert list((ws / "tmp" / "spark").glob("*/*")) == [], point  # Spark's scratch files
        assert not (out / "loans.csv").exists(), point
        opened.store.close()

    listed = seer_cli("runs", "--json", "--workspace", str(ws), timeout=60)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert [(r["run_id"], r["status"], r["flow_name"]) for r in doc] == [
        (run_id, "interrupted", "loans") for run_id in reversed(interrupted)
    ]

    rerun = seer_cli("run", str(flow), "--workspace", str(ws))
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "loans.csv").read_bytes() == reference
    assert _leftovers(ws, out) == []
