"""The Problems tab lists what validation finds and what a run found: a node that failed at run
time is listed with its message (real studio, real run, chromium)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import studio_browser as ts
from tests.studio_browser import Studio, shot, wait_doc

pytestmark = [pytest.mark.browser, pytest.mark.spark, ts.pytestmark]
studio = ts.studio
browser = ts.browser
page = ts.page


def _node(nid: str, op: str, params: dict, x: float) -> dict[str, Any]:
    return {"id": nid, "op": op, "version": 1, "params": params, "ui": {"x": x, "y": 150.0}}


def test_a_filter_that_fails_at_run_time_is_listed_in_problems(page: Any, studio: Studio) -> None:
    # the SQL's output columns are known only to Spark, so validation cannot see the typo
    doc = {
        "seer_flow": 1,
        "name": "runtime-failure",
        "id": "runtime-failure-1",
        "nodes": [
            _node("data", "import.sample", {"dataset": "credit_risk", "rows": 200}, 100),
            _node("sql", "transform.sql", {"query": "SELECT age AS years FROM data"}, 300),
            _node("filter", "clean.filter", {"condition": "agee > 30"}, 500),
        ],
        "links": [
            {"from": {"node": "data", "port": "out"}, "to": {"node": "sql", "port": "in"}},
            {"from": {"node": "sql", "port": "out"}, "to": {"node": "filter", "port": "in"}},
        ],
    }
    flows = studio.ws / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "runtime-failure.flow.json").write_text(json.dumps(doc))
    page.click("#btn-open")
    page.click('.list-item:has(.fname:text-is("runtime-failure"))')
    wait_doc(page, "s.nodes.length === 3")
    page.wait_for_selector("#problems .ok", timeout=10000)  # nothing to see before running

    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-failed", timeout=240000)
    page.click("#bt-problems")
    row = page.locator('#problems .problem:has(.pnode:text-is("filter"))')
    row.wait_for(timeout=10000)
    text = row.inner_text()
    assert "Failed in run" in text and "agee" in text, text
    assert page.locator("#bt-problems").inner_text() == "Problems (1)"
    shot(page, "problems-run-failure")


def test_a_model_scored_on_its_training_rows_is_a_warning_in_problems(
    page: Any, studio: Studio
) -> None:
    from tests.conftest import ROOT

    doc = json.loads((ROOT / "sample_flows" / "credit_risk_models.flow.json").read_text())
    for lk in doc["links"]:  # score the GBDT on the split's train output
        if lk["to"] == {"node": "score_gbdt", "port": "data"}:
            lk["from"]["port"] = "train"
    doc["name"], doc["id"] = "leaky", "leaky-1"
    (studio.ws / "flows" / "leaky.flow.json").write_text(json.dumps(doc))
    page.click("#btn-open")
    page.click('.list-item:has(.fname:text-is("leaky"))')
    wait_doc(page, "s.nodes.length === 9")
    row = page.locator('#problems .problem:has(.pnode:text-is("score_gbdt"))')
    row.wait_for(timeout=10000)
    text = row.inner_text()
    assert text.count("⚠") == 1 and 'node "GBDT" (gbdt) was trained on' in text, text
    assert 'Link the "test" output of node "80/20 split" (split)' in text
    shot(page, "problems-leakage-warning")
