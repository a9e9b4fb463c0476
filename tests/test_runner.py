"""The runner on real Spark: caching, forcing, failures, cancellation, concurrency, lineage."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from engine.flow import load_flow, prepare_flow
from engine.runner import Runner

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark

SMALL = {"id": "gen", "op": "import.sample", "params": {"rows": 2000, "seed": 1}}


def basic_flow(
    folder: Path,
    query: str = "SELECT loan_purpose, COUNT(*) AS n FROM split_train GROUP BY loan_purpose",
) -> Path:
    nodes = [
        SMALL,
        {"id": "split", "op": "split", "params": {"ratio": 0.7}},
        {"id": "agg", "op": "transform.sql", "params": {"query": query}},
        {"id": "save", "op": "export.csv", "params": {"path": "out/agg.csv"}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "agg.in"),
        ("split.test", "agg.in"),
        ("agg.out", "save.in"),
    ]
    return write_flow(folder, nodes, links)


def test_a_flow_runs_then_a_rerun_is_served_from_cache(spark, workspace, tmp_path: Path) -> None:
    path = basic_flow(tmp_path)
    first = run_flow(path, workspace)
    assert first.status == "succeeded"
    assert {n: r.status for n, r in first.nodes.items()} == dict.fromkeys(first.nodes, "succeeded")
    assert first.nodes["gen"].rows == {"out": 2000}
    assert sum(first.nodes["split"].rows.values()) == 2000
    assert (tmp_path / "out" / "agg.csv").read_text().startswith("loan_purpose,n\n")
    # outputs persisted under runs/<run_id>/<node>/
    run_dir = workspace.run_dir(first.run_id)
    assert (run_dir / "split" / "train.parquet").is_dir()

    second = run_flow(path, workspace)
    assert {r.status for r in second.nodes.values()} == {"cached"}
    assert second.nodes["split"].rows == first.nodes["split"].rows

    # the store recorded both runs with per-node status and rows
    store = workspace.store
    assert [r["status"] for r in store.list_runs()] == ["succeeded", "succeeded"]
    rows = {r["node_id"]: r for r in store.node_runs(first.run_id)}
    assert rows["gen"]["rows"] == {"out": 2000} and rows["gen"]["seconds"] > 0


def test_changing_a_param_reruns_that_node_and_its_downstream_only(
    spark, workspace, tmp_path: Path
) -> None:
    path = basic_flow(tmp_path)
    run_flow(path, workspace)
    path = basic_flow(
        tmp_path, query="SELECT channel, COUNT(*) AS n FROM split_train GROUP BY channel"
    )
    again = run_flow(path, workspace)
    status = {n: r.status for n, r in again.nodes.items()}
    assert status == {"gen": "cached", "split": "cached", "agg": "succeeded", "save": "succeeded"}
    assert (tmp_path / "out" / "agg.csv").read_text().startswith("channel,n\n")


def test_force_reruns_one_node_and_from_reruns_downstream(spark, workspace, tmp_path: Path) -> None:
    path = basic_flow(tmp_path)
    run_flow(path, workspace)
    forced = run_flow(path, workspace, force={"split"})
    assert {n: r.status for n, r in forced.nodes.items()} == {
        "gen": "cached",
        "split": "succeeded",
        "agg": "cached",
        "save": "cached",
    }
    from_split = run_flow(path, workspace, from_nodes={"split"})
    assert {n: r.status for n, r in from_split.nodes.items()} == {
        "gen": "cached",
        "split": "succeeded",
        "agg": "succeeded",
        "save": "succeeded",
    }


def test_run_to_here_runs_only_what_the_node_needs(spark, workspace, tmp_path: Path) -> None:
    result = run_flow(basic_flow(tmp_path), workspace, to_node="split")
    assert set(result.nodes) == {"gen", "split"}
    assert not (tmp_path / "out" / "agg.csv").exists()


def test_an_export_reruns_when_its_target_is_missing(spark, workspace, tmp_path: Path) -> None:
    path = basic_flow(tmp_path)
    run_flow(path, workspace)
    (tmp_path / "out" / "agg.csv").unlink()
    again = run_flow(path, workspace)
    assert again.nodes["save"].status == "succeeded" and again.nodes["agg"].status == "cached"
    assert (tmp_path / "out" / "agg.csv").exists()


def test_a_changed_input_file_invalidates_the_cache(spark, workspace, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    path = write_flow(
        tmp_path, [{"id": "load", "op": "import.csv", "params": {"path": "d.csv"}}], []
    )
    assert run_flow(path, workspace).nodes["load"].rows == {"out": 2}
    assert run_flow(path, workspace).nodes["load"].status == "cached"
    time.sleep(0.01)
    data.write_text("a,b\n1,x\n2,y\n3,z\n")
    again = run_flow(path, workspace)
    assert again.nodes["load"].status == "succeeded" and again.nodes["load"].rows == {"out": 3}


def test_a_failing_node_skips_its_downstream_and_other_branches_finish(
    spark, workspace, tmp_path: Path
) -> None:
    nodes = [
        SMALL,
        # a function Spark does not know: found only when Spark analyses the query
        {
            "id": "bad",
            "op": "transform.sql",
            "params": {"query": "SELECT no_such_fn(age) FROM gen"},
        },
        {"id": "after_bad", "op": "export.csv", "params": {"path": "bad.csv"}},
        {"id": "good", "op": "transform.sql", "params": {"query": "SELECT COUNT(*) AS n FROM gen"}},
        {"id": "after_good", "op": "export.csv", "params": {"path": "good.csv"}},
    ]
    links = [
        ("gen.out", "bad.in"),
        ("bad.out", "after_bad.in"),
        ("gen.out", "good.in"),
        ("good.out", "after_good.in"),
    ]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace)
    assert result.status == "failed"
    status = {n: r.status for n, r in result.nodes.items()}
    assert status == {
        "gen": "succeeded",
        "bad": "failed",
        "after_bad": "skipped",
        "good": "succeeded",
        "after_good": "succeeded",
    }
    err = result.nodes["bad"].error
    assert err.startswith('The query of transform.sql (node "bad") cannot run:')
    assert "no_such_fn" in err and "Its inputs are the views: gen" in err
    assert 'upstream node "bad"' in result.nodes["after_bad"].error
    # the error sentence and the traceback are kept in the run record
    rec = {r["node_id"]: r for r in workspace.store.node_runs(result.run_id)}
    assert rec["bad"]["error"] == err and "Traceback" in rec["bad"]["traceback"]
    assert workspace.store.get_run(result.run_id)["error"] == err
    # nothing half-written is left in the failed node's folder
    assert not list((workspace.run_dir(result.run_id) / "bad").glob("*.parquet"))


def test_events_report_each_node_with_timings_and_rows(spark, workspace, tmp_path: Path) -> None:
    result = run_flow(basic_flow(tmp_path), workspace)
    kinds = [(e.kind, e.node_id) for e in result.events if e.kind != "log"]
    for nid in ("gen", "split", "agg", "save"):
        assert (
            kinds.index(("queued", nid))
            < kinds.index(("running", nid))
            < kinds.index(("succeeded", nid))
        )
    done = [e for e in result.events if e.kind == "succeeded" and e.node_id == "split"][0]
    assert done.seconds > 0 and sum(done.rows.values()) == 2000


def test_cancelling_a_run_stops_the_spark_job_and_keeps_the_workspace_consistent(
    spark, workspace, tmp_path: Path
) -> None:
    slow = (
        "SELECT COUNT(*) AS n FROM range(0, 4000000000) a WHERE pmod(xxhash64(a.id), 1000003) = -1"
    )
    nodes = [
        SMALL,
        {"id": "slow", "op": "transform.sql", "params": {"query": slow}},
        {"id": "after", "op": "export.csv", "params": {"path": "never.csv"}},
    ]
    path = write_flow(tmp_path, nodes, [("gen.out", "slow.in"), ("slow.out", "after.in")])
    prepared = prepare_flow(load_flow(path))
    started = threading.Event()
    runner = Runner(
        workspace,
        listeners=[lambda e: e.kind == "running" and e.node_id == "slow" and started.set()],
    )
    handle = runner.start(prepared)
    assert started.wait(120)
    time.sleep(2)
    t0 = time.time()
    handle.cancel()
    result = handle.wait(60)
    assert time.time() - t0 < 30
    assert result.status == "cancelled"
    assert result.nodes["slow"].status == "cancelled"
    assert result.nodes["after"].status in ("cancelled", "skipped")
    assert not (tmp_path / "never.csv").exists()
    assert not list((workspace.run_dir(result.run_id) / "slow").glob("*.parquet"))
    assert workspace.store.get_run(result.run_id)["status"] == "cancelled"
    # the next run of the same flow reuses what finished before the cancel
    nodes[1]["params"]["query"] = "SELECT COUNT(*) AS n FROM gen"
    again = run_flow(
        write_flow(tmp_path, nodes, [("gen.out", "slow.in"), ("slow.out", "after.in")]), workspace
    )
    assert again.status == "succeeded" and again.nodes["gen"].status == "cached"


def test_independent_branches_run_concurrently(spark, workspace, tmp_path: Path) -> None:
    q = "SELECT COUNT(*) AS n FROM range(0, 30000000) WHERE pmod(xxhash64(id), 7) = 3"
    nodes = [
        SMALL,
        {"id": "left", "op": "transform.sql", "params": {"query": q}},
        {"id": "right", "op": "transform.sql", "params": {"query": q.replace("= 3", "= 4")}},
    ]
    result = run_flow(
        write_flow(tmp_path, nodes, [("gen.out", "left.in"), ("gen.out", "right.in")]),
        workspace,
        max_parallel=2,
    )
    assert result.status == "succeeded"
    spans = {}
    for e in result.events:
        if e.node_id in ("left", "right") and e.kind in ("running", "succeeded"):
            spans.setdefault(e.node_id, {})[e.kind] = e.ts
    assert spans["left"]["running"] < spans["right"]["succeeded"]
    assert spans["right"]["running"] < spans["left"]["succeeded"]


def test_two_runs_on_one_workspace_at_the_same_time(spark, workspace, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    flows = [basic_flow(a), basic_flow(b)]
    prepared = [prepare_flow(load_flow(p)) for p in flows]
    runner = Runner(workspace)
    handles = [runner.start(p) for p in prepared]
    results = [h.wait(300) for h in handles]
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert (a / "out" / "agg.csv").read_text() == (b / "out" / "agg.csv").read_text()


def test_lineage_recorded_by_an_operator_reaches_downstream_tables(
    spark, workspace, tmp_path: Path
) -> None:
    from engine.registry import load_registry
    from engine.spec import Operator, Port

    class Scores(Operator):
        id = "test.scores"
        title = category = description = "t"
        inputs = (Port("in", "table"),)
        outputs = (Port("out", "table"),)

        def run(self, ctx, inputs, params):
            ctx.set_lineage("out", model={"run_id": ctx.run_id, "node_id": ctx.node_id})
            return {"out": inputs["in"]}

    reg = load_registry()
    reg._ops["test.scores"] = Scores()
    try:
        nodes = [
            SMALL,
            {"id": "score", "op": "test.scores"},
            {
                "id": "top",
                "op": "transform.sql",
                "params": {"query": "SELECT * FROM score LIMIT 5"},
            },
        ]
        path = write_flow(tmp_path, nodes, [("gen.out", "score.in"), ("score.out", "top.in")])
        result = Runner(workspace).run(prepare_flow(load_flow(path), reg))
        assert workspace.store.lineage(result.run_id, "score", "out")["model"]["node_id"] == "score"
        assert workspace.store.lineage(result.run_id, "top", "out")["model"]["node_id"] == "score"
    finally:
        del reg._ops["test.scores"]


def test_run_record_keeps_the_flow_and_params(spark, workspace, tmp_path: Path) -> None:
    nodes = [{"id": "gen", "op": "import.sample", "params": {"rows": "${n}"}}]
    path = write_flow(tmp_path, nodes, [], params={"n": 100})
    result = run_flow(path, workspace, overrides={"n": "150"})
    run = workspace.store.get_run(result.run_id)
    assert json.loads(run["params_json"]) == {"n": 150}
    assert json.loads(run["flow_json"])["nodes"][0]["params"] == {"rows": "${n}"}
    assert result.nodes["gen"].rows == {"out": 150}


def test_a_lean_run_hands_the_split_on_unsaved_and_recomputes_it_when_needed(
    spark, workspace, tmp_path: Path
) -> None:
    """`seer run` keeps only what is needed: a split's outputs go to their consumers without
    being written, give the same results, and are recomputed when a consumer changes."""
    from engine.stats import OutputNotFound, find_output
    from engine.workspace import Workspace

    kept_dir = tmp_path / "kept"
    kept_dir.mkdir()
    kept = run_flow(basic_flow(kept_dir), Workspace(tmp_path / "ws-kept"))
    path = basic_flow(tmp_path)
    lean = run_flow(path, workspace, keep="needed")
    assert {r.status for r in lean.nodes.values()} == {"succeeded"}
    run_dir = workspace.run_dir(lean.run_id)
    assert not (run_dir / "split").exists()
    assert (run_dir / "agg" / "out.parquet").is_dir()
    assert lean.nodes["split"].outputs["train"]["transient"] is True
    assert lean.nodes["split"].rows == {}
    assert lean.nodes["agg"].rows == kept.nodes["agg"].rows
    lines = sorted((tmp_path / "out" / "agg.csv").read_text().splitlines())
    assert lines == sorted((kept_dir / "out" / "agg.csv").read_text().splitlines())
    with pytest.raises(OutputNotFound, match="without being saved.*--keep-all"):
        find_output(workspace.store, lean.run_id, "split", "train")

    again = run_flow(path, workspace, keep="needed")
    assert {r.status for r in again.nodes.values()} == {"cached"}

    changed = basic_flow(
        tmp_path, query="SELECT channel, COUNT(*) AS n FROM split_train GROUP BY channel"
    )
    rerun = run_flow(changed, workspace, keep="needed")
    status = {n: r.status for n, r in rerun.nodes.items()}
    assert status == {
        "gen": "cached",
        "split": "succeeded",
        "agg": "succeeded",
        "save": "succeeded",
    }
    assert (tmp_path / "out" / "agg.csv").read_text().startswith("channel,n\n")

    # a run that keeps everything (the studio's) saves the split again; the rest stays cached
    full = run_flow(changed, workspace)
    status = {n: r.status for n, r in full.nodes.items()}
    assert status == {"gen": "cached", "split": "succeeded", "agg": "cached", "save": "cached"}
    assert (workspace.run_dir(full.run_id) / "split" / "train.parquet").is_dir()
    assert find_output(workspace.store, "latest", "split", "train")[1]["rows"] > 0


def test_a_lean_run_saves_what_training_reads(spark, workspace, tmp_path: Path) -> None:
    """A model keeps statistics of its training table for drift checks, so a split that feeds
    training is saved even in a lean run."""
    nodes = [
        SMALL,
        {"id": "split", "op": "split", "params": {"ratio": 0.7}},
        {
            "id": "m",
            "op": "train.gbdt",
            "params": {"label": "default", "auto_tune": False, "exclude": ["customer_id"]},
        },
    ]
    links = [("gen.out", "split.in"), ("split.train", "m.train"), ("split.test", "m.valid")]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace, keep="needed")
    assert result.status == "succeeded", result.nodes["m"].error
    assert (workspace.run_dir(result.run_id) / "split" / "train.parquet").is_dir()
    manifest = json.loads(
        (Path(result.nodes["m"].outputs["model"]["path"]) / "manifest.json").read_text()
    )
    assert manifest["baseline"]
