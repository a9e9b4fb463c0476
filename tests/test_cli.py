"""The `seer` command as a user runs it: a fresh process, exit codes, stderr and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, seer_cli, write_flow

SAMPLE = ROOT / "sample_flows" / "credit_risk.flow.json"


@pytest.mark.spark
@pytest.mark.slow
def test_sample_flow_runs_then_reruns_from_cache_without_starting_spark(tmp_path: Path) -> None:
    ws, out = tmp_path / "ws", tmp_path / "out"
    first = seer_cli(
        "run",
        str(SAMPLE),
        "--workspace",
        str(ws),
        "--param",
        f"out_dir={out}",
        "--json",
        "--data-root",
        str(out),
    )
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)  # stdout is exactly one JSON document
    assert doc["status"] == "succeeded"
    assert set(doc["nodes"]) == {"applications", "split", "by_purpose", "save_summary", "save_test"}
    node = doc["nodes"]["split"]
    assert set(node) == {"status", "seconds", "rows", "metrics", "error"}
    assert node["status"] == "succeeded" and node["rows"] == {"train": 16000, "test": 4000}
    assert "✓ split (split) succeeded" in first.stderr  # human progress on stderr
    # the JVM's own notices go to the workspace's log, not between the progress lines
    assert "WARNING" not in first.stderr, first.stderr
    assert "incubator" in (ws / "logs" / "spark-jvm.log").read_text()
    assert (
        (out / "default_rate_by_purpose.csv").read_text().startswith("loan_purpose,applications,")
    )
    assert (out / "test_rows").is_dir()

    # A bogus master would fail if Spark were started: a fully cached rerun never starts it.
    second = seer_cli(
        "run",
        str(SAMPLE),
        "--workspace",
        str(ws),
        "--param",
        f"out_dir={out}",
        "--data-root",
        str(out),
        "--json",
        "--master",
        "spark://127.0.0.1:1",
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert {n["status"] for n in again["nodes"].values()} == {"cached"}
    assert again["run_id"] != doc["run_id"]

    # preview and column statistics of an output, from the store, without Spark
    prev = seer_cli(
        "preview",
        "latest",
        "split",
        "--port",
        "train",
        "--rows",
        "3",
        "--stats",
        "--json",
        "--workspace",
        str(ws),
        timeout=60,
    )
    assert prev.returncode == 0, prev.stderr
    shown = json.loads(prev.stdout)
    assert shown["total_rows"] == 16000 and len(shown["rows"]) == 3
    label = next(c for c in shown["stats"]["columns"] if c["name"] == "default")
    assert label["missing"] == 0 and {t["value"] for t in label["top"]} == {0, 1}
    missing = seer_cli("preview", "latest", "nope", "--workspace", str(ws), timeout=60)
    assert missing.returncode == 2 and 'No outputs of node "nope"' in missing.stderr


@pytest.mark.spark
def test_run_keeps_a_splits_tables_only_with_keep_all(tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 1000, "seed": 1}},
        {"id": "split", "op": "split", "params": {"ratio": 0.7}},
        {"id": "save", "op": "export.parquet", "params": {"path": "out/test_rows"}},
        {"id": "save_train", "op": "export.parquet", "params": {"path": "out/train_rows"}},
    ]
    links = [("gen.out", "split.in"), ("split.test", "save.in"), ("split.train", "save_train.in")]
    path = write_flow(tmp_path, nodes, links)
    ws = str(tmp_path / "ws")
    lean = seer_cli("run", str(path), "--workspace", ws, "--json")
    assert lean.returncode == 0, lean.stderr
    assert json.loads(lean.stdout)["nodes"]["split"]["rows"] == {}
    assert (tmp_path / "out" / "test_rows").is_dir()
    prev = seer_cli("preview", "latest", "split", "--workspace", ws, timeout=60)
    assert prev.returncode == 2
    assert "without being saved" in prev.stderr and "--keep-all" in prev.stderr
    kept = seer_cli("run", str(path), "--workspace", ws, "--json", "--keep-all")
    assert kept.returncode == 0, kept.stderr
    rows = json.loads(kept.stdout)["nodes"]["split"]["rows"]
    assert rows["train"] + rows["test"] == 1000
    prev = seer_cli("preview", "latest", "split", "--json", "--workspace", ws, timeout=60)
    assert prev.returncode == 0, prev.stderr
    assert json.loads(prev.stdout)["total_rows"] == rows["train"]


def test_validate_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    nodes = [
        {"id": "load", "op": "import.csv", "params": {}},
        {"id": "split", "op": "split", "params": {"ratio": 1.5}},
        {"id": "x", "op": "no.such.op"},
    ]
    path = write_flow(tmp_path, nodes, [("load.out", "split.in"), ("split.nope", "x.in")])
    proc = seer_cli("validate", str(path))
    assert proc.returncode == 2
    assert "3 problems" in proc.stderr or "problems" in proc.stderr
    assert "The 'path' parameter of import.csv (node \"load\") is required" in proc.stderr
    assert (
        "The 'ratio' parameter of split (node \"split\") must be a number in (0, 1). Got 1.5."
        in proc.stderr
    )
    assert 'Unknown operator "no.such.op"' in proc.stderr
    as_json = seer_cli("validate", str(path), "--json")
    assert as_json.returncode == 2
    doc = json.loads(as_json.stdout)
    assert doc["valid"] is False and len(doc["problems"]) >= 3
    assert {p["node"] for p in doc["problems"]} >= {"load", "split", "x"}


def test_validate_accepts_the_sample_flows() -> None:
    for path in sorted((ROOT / "sample_flows").glob("*.flow.json")):
        proc = seer_cli("validate", str(path))
        assert proc.returncode == 0, proc.stderr
        assert "is valid" in proc.stderr


def test_run_refuses_invalid_input_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.flow.json"
    bad.write_text("{ not json")
    proc = seer_cli("run", str(bad), "--workspace", str(tmp_path / "ws"), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["status"] == "invalid"
    assert "line 1, column 3" in proc.stderr
    proc = seer_cli(
        "run",
        str(ROOT / "sample_flows" / "credit_risk.flow.json"),
        "--param",
        "rows=many",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert proc.returncode == 2 and "--param rows must be an integer" in proc.stderr
    proc = seer_cli(
        "run",
        str(ROOT / "sample_flows" / "credit_risk.flow.json"),
        "--force",
        "nope",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert proc.returncode == 2 and 'no node "nope"' in proc.stderr
    assert seer_cli("run").returncode == 2


@pytest.mark.spark
def test_a_failed_run_exits_1_and_names_the_node(tmp_path: Path) -> None:
    # a row with too many fields: only reading the file tells (a missing file is found
    # before running and exits 2)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    params = {"path": "bad.csv", "schema": {"a": "int", "b": "int"}}
    path = write_flow(tmp_path, [{"id": "load", "op": "import.csv", "params": params}], [])
    proc = seer_cli("run", str(path), "--workspace", str(tmp_path / "ws"), "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed" and doc["nodes"]["load"]["status"] == "failed"
    assert 'Node "load" failed' in proc.stderr and "alformed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_operators_json_lists_the_catalogue() -> None:
    proc = seer_cli("operators", "--json")
    assert proc.returncode == 0
    ops = {o["id"]: o for o in json.loads(proc.stdout)}
    assert {"id", "title", "category", "inputs", "outputs", "params"} <= set(ops["split"])
    assert [p["name"] for p in ops["split"]["outputs"]] == ["train", "test"]
    ratio = next(p for p in ops["split"]["params"] if p["name"] == "ratio")
    assert (
        ratio["exclusiveMinimum"] == 0 and ratio["default"] == 0.8 and ratio["x-widget"] == "number"
    )
    human = seer_cli("operators")
    assert human.returncode == 0 and "import.csv" in human.stdout


def test_sample_data_streams_a_deterministic_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.parquet"
    assert seer_cli("sample-data", "credit_risk", "--rows", "2500", "--out", str(a)).returncode == 0
    assert seer_cli("sample-data", "credit_risk", "--rows", "2500", "--out", str(b)).returncode == 0
    lines = a.read_text().splitlines()
    assert len(lines) == 2501 and lines[0].startswith('"customer_id","application_date"')
    import pyarrow.parquet as pq

    assert pq.read_table(b).num_rows == 2500
    again = tmp_path / "again.csv"
    seer_cli("sample-data", "credit_risk", "--rows", "2500", "--out", str(again))
    assert again.read_bytes() == a.read_bytes()
    bad = seer_cli("sample-data", "nope", "--rows", "5", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "available: credit_risk" in bad.stderr


def test_the_commands_come_from_the_seer_commands_entry_points() -> None:
    """`seer` is one command line above the engine and the studio: every group of commands
    (the engine's flows, models, users; the studio) is an entry point a pack could add to."""
    from importlib.metadata import entry_points

    groups = {ep.name: ep.value for ep in entry_points(group="seer.commands")}
    assert groups["studio"] == "studio.cli:add_commands"
    assert {"flows", "models", "users"} <= set(groups)
    helped = seer_cli("--help")
    assert helped.returncode == 0
    listed = helped.stdout.split("positional arguments:")[1]
    for command in ("run", "validate", "models", "serve", "users", "studio"):
        assert f"\n    {command} " in listed, command
