"""The credit-risk analyst's story in a real browser: build a flow from an empty canvas,
set its parameters, save, reload, run, compare the AUC with `seer run`, publish and score."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests import studio_browser as sb
from tests.studio_browser import (
    Studio,
    choose,
    click_node,
    connect,
    drop,
    links,
    menu,
    saved_flow,
    shot,
    wait_doc,
)

pytestmark = sb.pytestmark
# one studio process and one chromium for this module
studio = sb.studio
browser = sb.browser
page = sb.page


# -- the user story ---------------------------------------------------------------------------
def test_build_run_publish_and_score_the_credit_risk_flow(  # noqa: PLR0915
    page: Any, studio: Studio, tmp_path: Path
) -> None:
    assert studio.ready_seconds < 30
    # build the flow from an empty canvas by drag and drop
    sample = drop(page, "import.sample", 90, 120)
    split = drop(page, "split", 290, 120)
    feats = drop(page, "features.extract", 490, 60)
    model = drop(page, "train.hdlr", 690, 60)
    pred = drop(page, "predict", 690, 220)
    ev = drop(page, "evaluate.binary", 890, 220)
    assert [sample, split, feats, model, pred, ev] == [
        "sample",
        "split",
        "extract",
        "hdlr",
        "predict",
        "binary",
    ]
    connect(page, sample, split)
    connect(page, split, feats)
    connect(page, feats, model)
    page.click("#btn-connect")  # the Connect toggle: plain drags draw links
    connect(page, model, pred, shift=False)
    connect(page, split, pred, shift=False)
    connect(page, pred, ev, shift=False)
    page.click("#btn-connect")
    wait_doc(page, "s.links.length === 6")
    assert links(page) == {
        "sample.out->split.in",
        "split.train->extract.train",
        "extract.train->hdlr.train",
        "hdlr.model->predict.model",
        "split.test->predict.data",
        "predict.out->binary.scored",
    }
    # params through the forms
    click_node(page, sample)
    page.fill("#param-sample-rows input", "3000")
    page.keyboard.press("Enter")
    wait_doc(page, "s.nodes.find(n => n.id === 'sample').params.rows === 3000")
    click_node(page, split)
    choose(page, "#param-split-stratify", "default")
    wait_doc(page, "s.nodes.find(n => n.id === 'split').params.stratify === 'default'")
    click_node(page, feats)
    choose(page, "#param-extract-label", "default")
    # the feature editor suggests a kind for every column; the text form keeps two of them
    page.click("#param-extract-features .fedit-open")
    page.wait_for_selector("#feature-editor:not(.hidden) .fe-table", timeout=20000)
    wait_doc(page, "(s.nodes.find(n => n.id === 'extract').params.features || []).length > 2")
    page.click(".fe-text summary")
    two = [
        {"kind": "discrete", "column": "home_ownership"},
        {"kind": "discrete", "column": "loan_purpose"},
    ]
    page.fill("#fe-json", json.dumps(two))
    page.click("#fe-done")
    wait_doc(page, "(s.nodes.find(n => n.id === 'extract').params.features || []).length === 2")
    click_node(page, model)
    choose(page, "#param-hdlr-label", "default")
    page.click("#param-hdlr-auto_tune input")
    wait_doc(page, "s.nodes.find(n => n.id === 'hdlr').params.auto_tune === false")
    page.wait_for_selector("text=No problems: the flow is ready to run.", timeout=10000)
    shot(page, "story-1-built")

    # save, reload: the flow persists
    menu(page, "#btn-saveas")
    page.wait_for_function("() => document.getElementById('modal-input').value === 'untitled'")
    page.fill("#modal-input", "credit story")
    page.click("#modal-ok")
    page.wait_for_selector("#modal.hidden", state="attached")
    page.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    flow = saved_flow(studio, "credit story")
    assert {n["id"] for n in flow["nodes"]} == {sample, split, feats, model, pred, ev}
    assert flow["nodes"][0]["ui"]["x"] and len(flow["links"]) == 6
    page.reload()
    page.wait_for_function(
        "() => window.SEER && SEER.getCy() && SEER.snapshot().nodes.length === 6", timeout=20000
    )
    page.wait_for_function(
        "() => document.getElementById('flow-name').textContent === 'credit story'"
    )

    # run: every node turns succeeded
    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-succeeded", timeout=240000)
    # the node colours follow the run's state a moment after the status line
    page.wait_for_function(
        "() => SEER.getCy().nodes('[op]').every(n => n.style('label').startsWith('✓'))",
        timeout=10000,
    )
    shot(page, "story-2-ran")

    # the evaluation shows the same AUC as the CLI run of the same flow file
    click_node(page, ev)
    page.click("#bt-output")
    auc_cell = page.wait_for_selector("#eval-metrics td.auc", timeout=20000)
    ui_auc = auc_cell.inner_text()
    page.wait_for_selector(".chart .main-svg", timeout=20000)
    shot(page, "story-3-evaluation")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "run",
            str(studio.ws / "flows" / "credit story.flow.json"),
            "--json",
            "--workspace",
            str(tmp_path / "cli-ws"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "SEER_DRIVER_MEMORY": "2g", "SEER_SPARK_MASTER": "local[2]"},
        timeout=600,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    cli_auc = json.loads(cli.stdout)["nodes"][ev]["metrics"]["auc"]
    assert ui_auc == f"{cli_auc:.4f}"

    # publish the model, then score one record through the try-it form
    click_node(page, model)
    page.click("#bt-output")
    page.click("button:has-text('Publish…')")
    page.wait_for_function("() => document.getElementById('modal-input').value === 'hdlr'")
    page.fill("#modal-input", "credit-story")
    page.click("#modal-ok")
    page.wait_for_selector('text=Published "credit-story" version 1', timeout=30000)
    page.click("#page-models")
    page.wait_for_selector("#models-page h3:has-text('credit-story')", timeout=20000)
    page.click("button:has-text('Score')")
    score = page.wait_for_selector("[id*='try-score']", timeout=30000).inner_text()
    shot(page, "story-4-models")
    # the page's service line follows what try-it found: this workspace's service, running
    page.wait_for_function(
        "() => document.getElementById('scoring-status').innerText.startsWith('running')"
    )
    assert 0.0 < float(score) < 1.0
    # the form called the live service: the same record scores the same over HTTP
    record: dict[str, Any] = {}
    for field in page.query_selector_all(".try-field"):
        text = field.query_selector("input").input_value()
        try:
            value: Any = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            value = text
        record[field.query_selector("label").inner_text()] = value
    r = httpx.post(
        f"http://127.0.0.1:{studio.serve_port}/v1/models/credit-story:predict",
        json={"instances": [record]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert f"{r.json()['predictions'][0]['score']:.6f}" == score

    # a second version: staging until promoted; promote, canary and roll back from the page
    from engine.model_registry import ModelRegistry
    from engine.workspace import Workspace

    registry = ModelRegistry(Workspace(studio.ws))
    page.click("#page-flow")
    page.wait_for_selector("#canvas", state="visible")
    click_node(page, model)
    page.click("#bt-output")
    page.click("button:has-text('Publish…')")
    page.wait_for_function("() => document.getElementById('modal-input').value === 'hdlr'")
    page.fill("#modal-input", "credit-story")
    page.click("#modal-ok")
    page.wait_for_selector('text=Published "credit-story" version 2', timeout=30000)
    assert registry.route("credit-story").production == 1
    # the staging version takes a share of traffic first, then is promoted
    page.click("#page-models")
    page.wait_for_selector("text=staging", timeout=10000)  # the page shows v2 before we type
    page.fill('[id*="canary-pct"]', "25")
    page.click('[id*=\'"act":"canary"\'][id*=\'"version":2\']')
    page.wait_for_selector("text=canary v2 (25%)", timeout=10000)
    assert (
        registry.route("credit-story").canary,
        registry.route("credit-story").canary_percent,
    ) == (2, 25.0)
    page.click('[id*=\'"act":"promote"\'][id*=\'"version":2\']')
    page.wait_for_selector("text=production v2", timeout=10000)
    assert registry.route("credit-story").production == 2
    page.click('[id*=\'"act":"rollback"\']')
    page.wait_for_selector("text=production v1", timeout=10000)
    assert registry.route("credit-story").production == 1
    # a model name the registry refuses: the dialog says why and stays open
    page.click("#page-flow")
    page.wait_for_selector("#canvas", state="visible")
    click_node(page, model)
    page.click("#bt-output")
    page.click("button:has-text('Publish…')")
    page.wait_for_function("() => document.getElementById('modal-input').value === 'hdlr'")
    page.fill("#modal-input", "no spaces allowed")
    page.click("#modal-ok")
    assert (
        "cannot name a model"
        in page.wait_for_selector("#modal-error:has-text('cannot')", timeout=10000).inner_text()
    )
    page.click("#modal-cancel")
