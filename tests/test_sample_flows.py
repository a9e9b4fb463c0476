"""Every sample flow runs out of the box (on a fresh clone, with no network), then reruns from cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, run_flow

pytestmark = [pytest.mark.spark, pytest.mark.slow]
FLOWS = sorted((ROOT / "sample_flows").glob("*.flow.json"))


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_sample_flow_runs_and_reruns_from_cache(
    spark, workspace, tmp_path: Path, path: Path
) -> None:
    doc = json.loads(path.read_text())
    if any(n["op"] == "import.serving_log" for n in doc["nodes"]):
        pytest.skip("reads a service's feedback: run end to end in tests/test_loop.py")
    declared = doc.get("params", {})
    overrides = {}
    if "rows" in declared:
        overrides["rows"] = "8000"  # keeps the suite quick; the flows' own sizes run the same way
    if "out_dir" in declared:
        overrides["out_dir"] = str(workspace.root / "out")  # exports stay inside the data roots
    result = run_flow(path, workspace, overrides=overrides)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    evaluations = [n for n in result.nodes.values() if n.metrics and "auc" in n.metrics]
    for node in evaluations:
        assert node.metrics["auc"] > 0.65
    again = run_flow(path, workspace, overrides=overrides)
    assert {n.status for n in again.nodes.values()} == {"cached"}
