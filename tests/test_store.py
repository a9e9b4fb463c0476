"""The workspace store: SQLite shared by threads and processes, and the same schema on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import uuid
from pathlib import Path

import pytest

from engine.store import Store


def _exercise(store: Store) -> None:
    store.create_run("r1", "flow", None, {"seer_flow": 1}, {"a": 1}, "local[*]")
    store.set_node("r1", "n1", op="split", status="queued", cache_key="k1")
    store.set_node("r1", "n1", status="succeeded", seconds=1.5, rows_json={"train": 8, "test": 2})
    store.cache_put(
        "k1",
        "r1",
        "n1",
        {
            "train": {
                "type": "table",
                "path": "/x",
                "rows": 8,
                "lineage": {"transform": {"run_id": "r0"}},
            }
        },
        None,
        {"auc": 0.9},
    )
    store.add_log("r1", "n1", "info", "hello")
    store.finish_run("r1", "succeeded")
    [node] = store.node_runs("r1")
    assert (
        node["status"] == "succeeded"
        and node["op"] == "split"
        and node["rows"] == {"train": 8, "test": 2}
    )
    assert store.get_run("r1")["status"] == "succeeded"
    assert store.cache_get("k1")["metrics"] == {"auc": 0.9}
    assert store.lineage("r1", "n1", "train") == {"transform": {"run_id": "r0"}}
    assert [entry["message"] for entry in store.logs("r1")] == ["hello"]
    _exercise_leases(store)
    _exercise_flow_ids(store)


def _exercise_flow_ids(store: Store) -> None:
    """Runs record their flow's id; a node's results are found within one flow's runs only."""
    for run_id, flow_id in (("fa1", "flow-a"), ("fb1", "flow-b"), ("fa2", "flow-a")):
        store.create_run(run_id, "f", None, {}, {}, None, flow_id=flow_id)
        store.set_node(run_id, "split", op="split", status="succeeded", cache_key=f"k-{run_id}")
        store.execute("UPDATE runs SET started_at = ? WHERE run_id = ?", (len(run_id), run_id))
    store.execute("UPDATE runs SET started_at = 10 WHERE run_id = 'fa2'")
    store.set_node("fa2", "gbdt", op="train.gbdt", status="failed", cache_key="k-x")
    assert store.get_run("fa1")["flow_id"] == "flow-a"
    assert [r["run_id"] for r in store.flow_node_runs("flow-a", "split")] == ["fa2", "fa1"]
    assert [r["cache_key"] for r in store.flow_node_runs("flow-b", "split")] == ["k-fb1"]
    assert store.flow_node_runs("flow-a", "gbdt") == []  # failed: no outputs to show
    assert store.flow_node_runs("flow-c", "split") == []
    assert store.latest_flow_run("flow-a") == "fa2" and store.latest_flow_run("flow-c") is None


def test_an_older_store_gains_the_flow_id_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "seer.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, flow_path TEXT, "
        "flow_json TEXT NOT NULL, params_json TEXT NOT NULL, master TEXT, status TEXT NOT NULL, "
        "started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, error TEXT)"
    )
    old.execute(
        "INSERT INTO runs VALUES ('old', 'f', NULL, '{}', '{}', NULL, 'succeeded', 1, 2, NULL)"
    )
    old.commit()
    old.close()
    store = Store(path)
    assert store.get_run("old")["flow_id"] is None  # kept, belongs to no flow
    store.create_run("new", "f", None, {}, {}, None, flow_id="flow-a")
    assert store.get_run("new")["flow_id"] == "flow-a"
    store.close()
    assert Store(path).get_run("new")["flow_id"] == "flow-a"  # opening again changes nothing


def _exercise_leases(store: Store) -> None:
    """Run leases and the interrupted status (engine/leases.py) in SQL both dialects accept."""
    store.create_run("r2", "flow", None, {}, {}, None)
    store.set_node("r2", "a", op="x", status="succeeded", finished_at=1.0)
    store.set_node("r2", "b", op="x", status="running")
    store.take_lease("r2", "host", 42, [[42, 1.0]])
    store.beat_leases(["r2"], [[42, 1.0], [43, 2.0]])
    store.add_run_temp("r2", "/w/.x.tmp-0123456789.run-r2")
    store.add_run_temp("r2", "/w/.x.tmp-0123456789.run-r2")  # registered twice: kept once
    assert store.run_temps("r2") == ["/w/.x.tmp-0123456789.run-r2"]
    [row] = store.unfinished_runs()
    assert (row["run_id"], row["host"], row["processes"]) == ("r2", "host", [[42, 1.0], [43, 2.0]])
    assert store.mark_interrupted("r2", "gone") and not store.mark_interrupted("r2", "gone")
    statuses = {n["node_id"]: n["status"] for n in store.node_runs("r2")}
    assert statuses == {"a": "succeeded", "b": "interrupted"}
    summaries = {r["run_id"]: r for r in store.run_summaries()}
    assert summaries["r2"]["status"] == "interrupted" and summaries["r2"]["failed_node"] == "b"
    assert summaries["r1"]["failed_node"] is None
    assert store.cached_nodes("r1") == {"n1"}
    store.release_lease("r2")
    assert store.run_temps("r2") == [] and store.unfinished_runs() == []


def test_sqlite_store_round_trip_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "seer.db")
    _exercise(store)
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def _writer(path: str, prefix: str, n: int) -> None:
    store = Store(path)
    for i in range(n):
        store.create_run(f"{prefix}-{i}", "f", None, {}, {}, None)
        store.set_node(f"{prefix}-{i}", "n", op="x", status="running")
        store.add_log(f"{prefix}-{i}", "n", "info", "line")


def test_sqlite_store_is_safe_across_threads_and_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "seer.db")
    Store(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, f"p{k}", 60)) for k in range(3)]
    threads = [threading.Thread(target=_writer, args=(path, f"t{k}", 60)) for k in range(3)]
    for w in (*procs, *threads):
        w.start()
    for w in (*procs, *threads):
        w.join(120)
    assert all(p.exitcode == 0 for p in procs)
    store = Store(path)
    assert len(store.list_runs(limit=1000)) == 360
    assert store.query("SELECT COUNT(*) AS n FROM logs")[0]["n"] == 360


def test_a_newer_store_schema_is_refused(tmp_path: Path) -> None:
    from engine.store import StoreError

    store = Store(tmp_path / "seer.db")
    store.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer Seer"):
        Store(tmp_path / "seer.db")


@pytest.mark.db
def test_postgresql_store_has_the_same_behaviour() -> None:
    psycopg = pytest.importorskip("psycopg")
    base = os.environ.get("SEER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"seer_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(base, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {base}: {exc}")
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = Store(f"{base}?options=-csearch_path%3D{schema}")
        _exercise(store)
        # several threads writing at once
        threads = [
            threading.Thread(target=_writer, args=(store.url, f"t{k}", 20)) for k in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(store.list_runs(limit=1000)) == 65  # r1, r2, three of flow ids and 3 x 20
        store.close()
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
