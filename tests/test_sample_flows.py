"""Every sample flow runs out of the box (on a fresh clone, with no network), then reruns from cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, run_flow

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _reads_serving_log(path: Path) -> bool:
    return any(n["op"] == "import.serving_log" for n in json.loads(path.read_text())["nodes"])


# a flow that reads a service's logged feedback needs a served model first: the retrain flow is
# run end to end by tests/test_loop.py, after the service has logged and received feedback
FLOWS = [
    p for p in sorted((ROOT / "sample_flows").glob("*.flow.json")) if not _reads_serving_log(p)
]


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_sample_flow_runs_and_reruns_from_cache(
    spark, workspace, tmp_path: Path, path: Path
) -> None:
    doc = json.loads(path.read_text())
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
