"""The studio shows only what belongs to the flow on the canvas: two flows with the same node
ids never see each other's statuses, outputs or models (real studio, real runs, chromium)."""

from __future__ import annotations

import json
from typing import Any

from tests import test_studio as ts
from tests.test_studio import Studio, click_node, saved_flow, shot, wait_doc

# the studio's browser-test fixtures: one studio process and one chromium for this module
studio = ts.studio
browser = ts.browser
page = ts.page


def _flow(name: str, rows: int, flow_id: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"seer_flow": 1, "name": name}
    if flow_id:
        doc["id"] = flow_id
    doc["nodes"] = [
        {
            "id": "data",
            "op": "import.sample",
            "version": 1,
            "params": {"dataset": "credit_risk", "rows": rows, "seed": 3},
            "ui": {"x": 100.0, "y": 150.0, "label": "Data"},
        },
        {
            "id": "split",
            "op": "split",
            "version": 1,
            "params": {"ratio": 0.8, "seed": 1},
            "ui": {"x": 300.0, "y": 150.0, "label": "Split"},
        },
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "version": 1,
            "params": {"label": "default", "exclude": ["customer_id", "application_date"]},
            "ui": {"x": 500.0, "y": 150.0, "label": "GBDT"},
        },
    ]
    doc["links"] = [
        {"from": {"node": "data", "port": "out"}, "to": {"node": "split", "port": "in"}},
        {"from": {"node": "split", "port": "train"}, "to": {"node": "gbdt", "port": "train"}},
    ]
    return doc


def _open(pg: Any, name: str) -> None:
    pg.click("#btn-open")
    pg.click(f'.list-item:has(.fname:text-is("{name}"))')
    wait_doc(pg, "s.nodes.length === 3")
    pg.wait_for_timeout(500)


def _labels(pg: Any) -> list[str]:
    return pg.evaluate("() => SEER.getCy().nodes().map(n => n.style('label'))")


def _output_of(pg: Any, nid: str) -> str:
    click_node(pg, nid)
    pg.wait_for_timeout(800)
    return pg.locator("#output").inner_text()


def test_two_flows_with_the_same_node_ids_never_share_results(
    page: Any, studio: Studio, browser: Any
) -> None:
    flows = studio.ws / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "loans.flow.json").write_text(json.dumps(_flow("loans", 600, "loans-flow-1")))
    # an older file without an id: the studio gives it one
    (flows / "adult.flow.json").write_text(json.dumps(_flow("adult", 500, None)))

    _open(page, "loans")
    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-succeeded", timeout=240000)
    assert all(label.startswith("✓") for label in _labels(page)), _labels(page)
    assert "Publish" in _output_of(page, "gbdt")
    assert "customer_id" in _output_of(page, "split")

    _open(page, "adult")
    page.wait_for_function(
        "() => SEER.getCy().nodes().every(n => !n.style('label').startsWith('✓'))", timeout=10000
    )
    # the id it was given is no edit of the user's
    page.wait_for_function("() => document.querySelector('#dirty').innerText === ''", timeout=5000)
    assert "Publish" not in _output_of(page, "gbdt")
    assert "no outputs" in _output_of(page, "split")
    assert page.locator("#run-status .pill").count() == 0
    assert "Starting" not in page.locator("#run-log").inner_text()
    page.click("#bt-output")
    shot(page, "other-flow-after-run")

    page.click("#btn-save")  # the id given on open is written on Save, and kept after
    page.wait_for_function("() => document.querySelector('#dirty').innerText === ''")
    page.wait_for_timeout(500)
    given = saved_flow(studio, "adult").get("id")
    assert given and given != "loans-flow-1"

    fresh = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    fresh.goto(studio.url)
    fresh.wait_for_function("() => window.SEER && SEER.catalog && SEER.getCy()", timeout=20000)
    _open(fresh, "adult")
    assert "Publish" not in _output_of(fresh, "gbdt")
    assert "no outputs" in _output_of(fresh, "split")
    fresh.context.close()
    assert saved_flow(studio, "adult")["id"] == given

    # back to the flow that ran: its results are there; change a param and they are out of date
    _open(page, "loans")
    assert "Publish" in _output_of(page, "gbdt")
    click_node(page, "split")
    page.fill("#param-split-ratio input", "0.7")
    page.keyboard.press("Enter")
    wait_doc(page, "s.nodes.find(n => n.id === 'split').params.ratio === 0.7")
    text = _output_of(page, "gbdt")
    assert "out of date" in text.lower() and "Publish" not in text, text
    page.click("#bt-output")
    shot(page, "out-of-date-output")
