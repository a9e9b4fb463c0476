"""Run leases without Spark: which runs count as interrupted, what is cleaned, what is kept,
and `seer runs`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine import leases
from engine.workspace import Workspace

from .conftest import seer_cli

# A process that starts a run the way the runner does (lease, temporary names carrying the
# run id), leaves half-done work behind, and waits to be killed.
_HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from engine import leases
    from engine.atomic import temp_owner, temp_sibling
    from engine.workspace import Workspace

    ws, export = Workspace(sys.argv[1]), Path(sys.argv[2])
    store = ws.store
    store.create_run("r1", "flow", None, {}, {}, None)
    store.set_node("r1", "done", op="x", status="succeeded", cache_key="k1")
    store.set_node("r1", "busy", op="x", status="running")
    store.set_node("r1", "later", op="x", status="queued")
    kept = ws.run_dir("r1") / "done" / "out.parquet"
    kept.mkdir(parents=True)
    (kept / "part-0.parquet").write_text("cached rows")
    store.cache_put("k1", "r1", "done", {"out": {"path": str(kept)}}, None, None)
    with leases.lease(store, "r1") as owner, temp_owner(owner):
        half = temp_sibling(ws.run_dir("r1") / "busy" / "out.parquet")
        (half / "_temporary").mkdir(parents=True)
        (half / "_temporary" / "part-0").write_bytes(b"x" * 100_000)
        staging = temp_sibling(export / "table", "staging")
        staging.mkdir()
        (staging / "part-0.csv").write_text("new")
        # a folder being replaced, caught between its two renames: the old one moved aside
        os.replace(export / "table", temp_sibling(export / "table", "old"))
        orphan = ws.run_dir("r1") / "busy" / "model"  # an output the cache never recorded
        orphan.mkdir()
        print("ready", flush=True)
        time.sleep(600)
    """
)


def _start_holder(ws: Path, export: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(ws), str(export)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def test_a_killed_run_is_interrupted_and_only_its_leftovers_go(tmp_path: Path) -> None:
    ws, export = tmp_path / "ws", tmp_path / "export"
    (export / "table").mkdir(parents=True)
    (export / "table" / "part-0.csv").write_text("old")
    # a name that looks temporary but belongs to another run: never touched
    stranger = export / ".table.staging-0123456789.run-other"
    stranger.mkdir()
    proc = _start_holder(ws, export)
    try:
        # while the holder lives, opening the workspace (here or in another process) leaves
        # the run alone
        assert Workspace(ws).store.get_run("r1")["status"] == "running"
        listed = seer_cli("runs", "--json", "--workspace", str(ws), timeout=60)
        assert [r["status"] for r in json.loads(listed.stdout)] == ["running"]
        assert any(export.glob(".table.staging-*.run-r1"))  # its work in progress stays
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    store = Workspace(ws).store
    run = store.get_run("r1")
    assert run["status"] == "interrupted"
    assert "interrupted" in run["error"]
    nodes = {n["node_id"]: n["status"] for n in store.node_runs("r1")}
    assert nodes == {"done": "succeeded", "busy": "interrupted", "later": "interrupted"}
    # the cached output stays (a rerun reuses it); the rest of the run's work is gone
    assert (ws / "runs/r1/done/out.parquet/part-0.parquet").read_text() == "cached rows"
    assert not (ws / "runs/r1/busy").exists()
    assert sorted(p.name for p in export.iterdir()) == [stranger.name, "table"]
    # the folder caught between its two renames is back, with its old content
    assert (export / "table" / "part-0.csv").read_text() == "old"
    assert store.run_temps("r1") == []
    assert store.unfinished_runs() == []


def test_a_run_of_this_process_is_left_alone_by_another_opening(tmp_path: Path) -> None:
    """The studio runs runs in threads of one process: its own runs stay running."""
    ws = Workspace(tmp_path / "ws")
    ws.store.create_run("live", "flow", None, {}, {}, None)
    with leases.lease(ws.store, "live"):
        assert Workspace(ws.root).store.get_run("live")["status"] == "running"
    ws.store.finish_run("live", "succeeded")
    assert Workspace(ws.root).store.get_run("live")["status"] == "succeeded"


def test_a_run_on_another_host_is_interrupted_when_its_heartbeat_stops(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    now = time.time()
    for run_id, beat in [("quiet", now - leases.STALE_AFTER_SECONDS - 5), ("beating", now)]:
        ws.store.create_run(run_id, "flow", None, {}, {}, None)
        ws.store.take_lease(run_id, "another-host", 1, [[1, 0.0]])
        ws.store.execute("UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ?", (beat, run_id))
    # a run with no lease at all (a Seer before leases): interrupted once old enough
    ws.store.create_run("old", "flow", None, {}, {}, None)
    ws.store.execute("UPDATE runs SET started_at = ? WHERE run_id = 'old'", (now - 3600,))
    store = Workspace(ws.root).store
    assert {r: store.get_run(r)["status"] for r in ("quiet", "beating", "old")} == {
        "quiet": "interrupted",
        "beating": "running",
        "old": "interrupted",
    }
    # an interrupted run ended with its last heartbeat, not when it was noticed
    quiet = store.get_run("quiet")
    assert quiet["finished_at"] == pytest.approx(now - leases.STALE_AFTER_SECONDS - 5)


def test_the_heartbeat_is_refreshed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "HEARTBEAT_SECONDS", 0.05)
    ws = Workspace(tmp_path / "ws")
    ws.store.create_run("r", "flow", None, {}, {}, None)
    with leases.lease(ws.store, "r"):
        beats = [ws.store.query("SELECT heartbeat_at FROM run_leases")[0]["heartbeat_at"]]
        deadline = time.time() + 10
        while len(beats) < 4:
            assert time.time() < deadline, f"the heartbeat stopped after {len(beats)} beats"
            beat = ws.store.query("SELECT heartbeat_at FROM run_leases")[0]["heartbeat_at"]
            if beat != beats[-1]:
                beats.append(beat)
            time.sleep(0.01)
        lease = ws.store.query("SELECT host, pid FROM run_leases")[0]
        assert lease == {"host": leases.host_name(), "pid": os.getpid()}
    assert ws.store.query("SELECT * FROM run_leases") == []


def test_seer_runs_lists_status_flow_duration_and_failed_node(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.store.create_run("r-ok", "scoring", None, {}, {}, None)
    ws.store.finish_run("r-ok", "succeeded")
    ws.store.create_run("r-bad", "training", None, {}, {}, None)
    ws.store.set_node("r-bad", "fit", op="train.gbdt", status="failed", finished_at=time.time())
    ws.store.finish_run("r-bad", "failed", "fit broke")
    listed = seer_cli("runs", "--json", "--workspace", str(ws.root), timeout=60)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert [(r["run_id"], r["status"], r["flow_name"], r["failed_node"]) for r in doc] == [
        ("r-bad", "failed", "training", "fit"),
        ("r-ok", "succeeded", "scoring", None),
    ]
    assert all(r["seconds"] >= 0 for r in doc)
    text = seer_cli("runs", "--limit", "1", "--workspace", str(ws.root), timeout=60)
    assert text.returncode == 0, text.stderr
    assert "r-bad" in text.stdout and "failed" in text.stdout and "fit" in text.stdout
    assert "r-ok" not in text.stdout
    bad = seer_cli("runs", "--limit", "0", "--workspace", str(ws.root), timeout=60)
    assert bad.returncode == 2 and "--limit must be at least 1" in bad.stderr
    missing = seer_cli("runs", "--workspace", str(tmp_path / "nowhere"), timeout=60)
    assert missing.returncode == 2 and "No workspace at" in missing.stderr
    assert not (tmp_path / "nowhere").exists()


def test_spark_scratch_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    """Spark removes its scratch folder when its JVM ends normally; a JVM killed outright (the
    out-of-memory killer picks the biggest process) leaves shuffle files behind."""
    import psutil

    ws = Workspace(tmp_path / "ws")
    mine = ws.spark_local_dir
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(dead.pid).create_time()
    dead.wait()
    gone = mine.parent / f"{leases.host_name()}-{dead.pid}-{int(started)}"
    elsewhere = mine.parent / f"another-host-{dead.pid}-{int(started)}"
    for folder in (mine, gone, elsewhere):
        (folder / "blockmgr-1").mkdir(parents=True)
        (folder / "blockmgr-1" / "shuffle_0.data").write_bytes(b"x" * 1000)
    assert mine.name == leases.process_tag()
    Workspace(ws.root).store  # noqa: B018 - opening the workspace cleans
    assert sorted(p.name for p in mine.parent.iterdir()) == sorted([mine.name, elsewhere.name])
