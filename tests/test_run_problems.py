"""A node that failed at run time is listed among the flow's problems, with its message, until
it is changed; only runs of the same flow count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.flow import load_flow, save_flow
from engine.runproblems import latest_run_problems

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark
CSV = "age,income\n39,50000\n50,83311\n"


def failing_flow(tmp_path: Path, flow_id: str = "flow-a") -> Path:
    """A filter whose column is unknown only at run time (after SQL, whose schema validation
    cannot know)."""
    (tmp_path / "adult.csv").write_text(CSV)
    nodes = [
        {"id": "load", "op": "import.csv", "params": {"path": "adult.csv"}},
        {"id": "sql", "op": "transform.sql", "params": {"query": "SELECT age AS a FROM load"}},
        {"id": "filter", "op": "clean.filter", "params": {"condition": "agee > 30"}},
    ]
    path = write_flow(tmp_path, nodes, [("load.out", "sql.in"), ("sql.out", "filter.in")])
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "id": flow_id}))
    return path


def test_a_node_that_failed_at_run_time_is_a_problem_until_it_changes(
    spark, workspace, tmp_path: Path
) -> None:
    path = failing_flow(tmp_path)
    flow = load_flow(path)
    assert latest_run_problems(workspace.store, flow) == []  # never run: nothing to say
    result = run_flow(path, workspace)
    assert result.status == "failed"

    [p] = latest_run_problems(workspace.store, flow)
    assert (p.node, p.code, p.severity) == ("filter", "run-failed", "error")
    assert result.run_id in p.message and "agee" in p.message
    assert p.message.endswith(result.nodes["filter"].error)
    assert p.to_json()["node"] == "filter"

    # another flow with the same node ids never shows this flow's failure
    other = load_flow(path)
    other.id = "flow-b"
    assert latest_run_problems(workspace.store, other) == []

    # once the condition is changed, the old failure no longer describes the node
    flow.node("filter").params["condition"] = "a > 30"
    save_flow(flow, path)
    assert latest_run_problems(workspace.store, load_flow(path)) == []
