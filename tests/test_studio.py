"""The studio in a real browser: Debian's chromium driven by Playwright against `seer studio`
started as a user starts it (a separate process, waitress, a real workspace)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(
    os.environ.get(
        "SEER_SCREENSHOTS", Path(__file__).resolve().parent.parent / "build" / "screenshots"
    )
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt install chromium)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Studio:
    def __init__(self, root: Path):
        self.ws = root / "ws"
        self.port = free_port()
        self.serve_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "SEER_DRIVER_MEMORY": "2g", "SEER_SPARK_MASTER": "local[2]"}
        self.log = open(root / "studio.log", "wb")  # noqa: SIM115
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "studio.cli",
                "studio",
                "--no-browser",
                "--workspace",
                str(self.ws),
                "--port",
                str(self.port),
                "--serve-port",
                str(self.serve_port),
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        assert line == self.url, (
            f"seer studio printed {line!r}; log: {(root / 'studio.log').read_text()}"
        )
        self.ready_seconds = time.perf_counter() - t0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = Studio(tmp_path_factory.mktemp("studio"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, studio: Studio, request: pytest.FixtureRequest) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(studio.url)
    pg.wait_for_selector("#canvas canvas", timeout=20000)
    pg.wait_for_function(
        "() => window.SEER && window.SEER.catalog && window.SEER.getCy()", timeout=20000
    )
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shot(pg, f"FAILED-{request.node.name}")
    ctx.close()
    assert not pg.errors, pg.errors


# -- helpers --------------------------------------------------------------------------------
def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def drop(page: Any, op: str, x: float, y: float) -> str:
    """Drag an operator from the palette onto the canvas; returns the new node's id."""
    before = {n["id"] for n in page.evaluate("() => SEER.snapshot().nodes")}
    page.drag_and_drop(f'[data-optype="{op}"]', "#canvas", target_position={"x": x, "y": y})
    page.wait_for_function(f"() => SEER.snapshot().nodes.length > {len(before)}")
    after = {n["id"] for n in page.evaluate("() => SEER.snapshot().nodes")}
    (new,) = after - before
    return new


def node_point(page: Any, nid: str) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    pos = page.evaluate(f"() => SEER.getCy().getElementById('{nid}').renderedPosition()")
    return box["x"] + pos["x"], box["y"] + pos["y"]


def connect(page: Any, src: str, dst: str, shift: bool = True) -> None:
    """Draw a link with the mouse: Shift+drag from one node to the other."""
    x1, y1 = node_point(page, src)
    x2, y2 = node_point(page, dst)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=8)
    page.mouse.move(x2, y2, steps=8)
    page.mouse.up()
    if shift:
        page.keyboard.up("Shift")
    time.sleep(0.3)


def links(page: Any) -> set[str]:
    return {
        f"{lk['source']}.{lk['sourcePort']}->{lk['target']}.{lk['targetPort']}"
        for lk in page.evaluate("() => SEER.snapshot().links")
    }


def click_node(page: Any, nid: str) -> None:
    x, y = node_point(page, nid)
    page.mouse.click(x, y)
    page.wait_for_selector(f"text=node id: {nid}", timeout=10000)


def menu(page: Any, button: str) -> None:
    """Click a flow-file action of the header's More menu (Save as, Rename, Duplicate, Export,
    Delete file)."""
    page.click("#file-menu summary")
    page.click(button)


def choose(page: Any, container: str, value: str) -> None:
    """Pick a value in a dcc.Dropdown inside `container`."""
    page.locator(f"{container} .dash-dropdown").first.click()
    page.get_by_role("option", name=value, exact=True).first.click(timeout=10000)
    page.wait_for_timeout(300)


def wait_doc(page: Any, predicate: str, timeout: float = 10000) -> None:
    page.wait_for_function(
        f"() => {{ const s = SEER.snapshot(); return {predicate}; }}", timeout=timeout
    )


def saved_flow(studio: Studio, name: str) -> dict[str, Any]:
    return json.loads((studio.ws / "flows" / f"{name}.flow.json").read_text())


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
    for column in ("home_ownership", "loan_purpose"):
        page.click("#param-extract-features button:has-text('Add feature')")
        page.wait_for_timeout(300)
        cell = page.locator("#param-extract-features td[data-dash-column='column']").last
        cell.click()
        page.keyboard.type(column)
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
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
        "() => SEER.getCy().nodes().every(n => n.style('label').startsWith('✓'))", timeout=10000
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


def test_an_invalid_link_is_refused_with_the_reason(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    ev = drop(page, "evaluate.binary", 200, 150)
    imp = drop(page, "import.sample", 450, 150)
    connect(page, ev, imp)
    toast = page.wait_for_selector(".toast.show", timeout=5000).inner_text()
    assert "takes no inputs" in toast
    connect(page, imp, ev)  # a table into "scored" (table): fine
    wait_doc(page, "s.links.length === 1")
    model = drop(page, "train.gbdt", 450, 300)
    connect(page, ev, model)  # metrics into a table input: refused, naming the types
    toast = page.wait_for_selector(".toast.show", timeout=5000).inner_text()
    assert "metrics" in toast and "table" in toast
    assert len(links(page)) == 1
    shot(page, "invalid-link")


def test_delete_undo_redo_copy_paste(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    a = drop(page, "import.sample", 200, 150)
    b = drop(page, "split", 420, 150)
    connect(page, a, b)
    wait_doc(page, "s.links.length === 1")
    click_node(page, b)
    page.keyboard.press("Delete")
    wait_doc(page, "s.nodes.length === 1 && s.links.length === 0")
    page.keyboard.press("Control+z")
    wait_doc(page, "s.nodes.length === 2 && s.links.length === 1")
    page.keyboard.press("Control+Shift+z")
    wait_doc(page, "s.nodes.length === 1 && s.links.length === 0")
    page.keyboard.press("Control+z")
    wait_doc(page, "s.nodes.length === 2")
    # copy a node with its params and paste it
    click_node(page, a)
    page.fill("#param-sample-rows input", "1234")
    page.keyboard.press("Enter")
    wait_doc(page, "s.nodes.find(n => n.id === 'sample').params.rows === 1234")
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    click_node(page, a)
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    wait_doc(page, "s.nodes.length === 3")
    pasted = [n for n in page.evaluate("() => SEER.snapshot().nodes") if n["id"] not in (a, b)]
    assert pasted[0]["op"] == "import.sample" and pasted[0]["params"] == {"rows": 1234}


def test_export_and_import_round_trip(page: Any, studio: Studio, tmp_path: Path) -> None:
    page.click("#btn-open")
    page.click("text=credit_risk_models")
    wait_doc(page, "s.nodes.length > 5 && SEER.last && SEER.last.nodes.length === s.nodes.length")
    with page.expect_download() as dl:
        menu(page, "#btn-export")
    exported = tmp_path / "exported.flow.json"
    dl.value.save_as(exported)
    data = json.loads(exported.read_text())
    assert data["seer_flow"] == 1 and data["name"] == "credit-risk-models"
    original = json.loads(
        (
            Path(__file__).resolve().parent.parent / "sample_flows" / "credit_risk_models.flow.json"
        ).read_text()
    )
    assert [n["id"] for n in data["nodes"]] == [n["id"] for n in original["nodes"]]
    assert len(data["links"]) == len(original["links"])
    assert data["nodes"][2]["params"] == original["nodes"][2]["params"]
    # import it back into a fresh canvas (the opened sample is not saved: New asks first)
    page.click("#btn-new")
    page.click("#unsaved-discard")
    wait_doc(page, "s.nodes.length === 0")
    # the server has the empty canvas too (what the unsaved-changes guard reads) before we import
    page.wait_for_selector("text=The canvas is empty", timeout=10000)
    page.set_input_files("#upload-flow input[type=file]", str(exported))
    wait_doc(
        page,
        f"s.nodes.length === {len(original['nodes'])} && s.links.length === {len(original['links'])}",
    )
    # a broken file is refused with the reason, and the canvas keeps what it had
    bad = tmp_path / "bad.flow.json"
    bad.write_text('{"seer_flow": 1, "nodes": [}')
    page.set_input_files("#upload-flow input[type=file]", str(bad))
    toast = page.wait_for_selector(".toast.show", timeout=5000).inner_text()
    assert "not valid JSON" in toast
    wait_doc(page, f"s.nodes.length === {len(original['nodes'])}")


def test_a_failing_node_shows_its_error(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    sample = drop(page, "import.sample", 200, 150)
    sql = drop(page, "transform.sql", 450, 150)
    connect(page, sample, sql)
    click_node(page, sample)
    page.fill("#param-sample-rows input", "200")
    page.keyboard.press("Enter")
    click_node(page, sql)
    # the SQL param is edited in a code editor (CodeMirror with Spark SQL highlighting)
    page.click("#param-sql-query .CodeMirror")
    page.keyboard.type(
        "SELECT CAST('abc' AS INT) / 0 AS x FROM sample WHERE assert_true(income < 0)"
    )
    assert page.locator("#param-sql-query .cm-keyword").count() >= 3  # SELECT, AS, FROM, WHERE
    wait_doc(
        page, "(s.nodes.find(n => n.id === 'sql').params.query || '').indexOf('assert_true') >= 0"
    )
    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-failed", timeout=180000)
    click_node(page, sql)
    err = page.wait_for_selector(".node-error", timeout=10000).inner_text()
    assert re.search(r"assert|income", err, re.I), err
    shot(page, "failed-node")
    # the Problems tab lists the failure too (validation alone could not know it)
    page.click("#bt-problems")
    row = page.wait_for_selector(
        '#problems .problem:has(.pnode:text-is("sql"))', timeout=10000
    ).inner_text()
    assert row.startswith("sql") and "Failed in run" in row, row


def test_problems_panel_lists_and_selects(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    drop(page, "train.gbdt", 300, 200)
    page.wait_for_selector(".problem", timeout=10000)
    texts = [p.inner_text() for p in page.query_selector_all(".problem")]
    assert any('Input "train" (table) of train.gbdt is not connected' in t for t in texts), texts
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.click(".problem >> nth=0")
    page.wait_for_selector("text=node id: gbdt", timeout=5000)


def test_studio_page_is_quick_to_serve(studio: Studio) -> None:
    t = time.perf_counter()
    r = httpx.get(studio.url, timeout=10)
    assert r.status_code == 200 and "Seer studio" in r.text
    assert r.headers.get("server") == "seer-studio"  # waitress, not the development server
    assert time.perf_counter() - t < 5


def test_flow_files_save_as_rename_duplicate_delete(page: Any, studio: Studio) -> None:
    flows = studio.ws / "flows"
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    drop(page, "import.sample", 250, 150)

    def dialog(button: str, value: str | None) -> None:
        menu(page, button)
        page.wait_for_selector("#modal:not(.hidden)")
        if value is not None:
            page.wait_for_timeout(300)
            page.fill("#modal-input", value)
        page.click("#modal-ok")

    dialog("#btn-saveas", "alpha")
    page.wait_for_selector("#modal.hidden", state="attached")
    assert (flows / "alpha.flow.json").exists()
    # an existing name is refused in the dialog, nothing overwritten
    drop(page, "split", 450, 150)
    taken = flows / "taken.flow.json"
    taken.write_text('{"seer_flow": 1, "name": "taken", "nodes": [], "links": []}\n')
    dialog("#btn-saveas", "taken")
    assert "exists" in page.wait_for_selector("#modal-error:has-text('exists')").inner_text()
    page.click("#modal-cancel")
    assert json.loads(taken.read_text())["nodes"] == []
    page.wait_for_function(
        "() => document.getElementById('dirty').textContent.indexOf('unsaved') >= 0"
    )
    page.click("#btn-save")
    page.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    assert len(saved_flow(studio, "alpha")["nodes"]) == 2
    dialog("#btn-rename", "beta")
    page.wait_for_function("() => document.getElementById('flow-name').textContent === 'beta'")
    assert not (flows / "alpha.flow.json").exists() and saved_flow(studio, "beta")["name"] == "beta"
    menu(page, "#btn-duplicate")
    page.wait_for_function("() => document.getElementById('flow-name').textContent === 'beta copy'")
    assert len(saved_flow(studio, "beta copy")["nodes"]) == 2
    dialog("#btn-delete", None)
    page.wait_for_selector("text=Flow file deleted")
    assert not (flows / "beta copy.flow.json").exists() and (flows / "beta.flow.json").exists()
    wait_doc(page, "s.nodes.length === 2")  # the canvas keeps the flow
    # Open lists the workspace's flows (after asking about the canvas no file holds now)
    page.click("#btn-open")
    page.click("#unsaved-discard")
    page.click("[id*='open-flow'] >> text=beta")
    page.wait_for_function("() => document.getElementById('flow-name').textContent === 'beta'")


def test_upload_a_csv_and_pick_files(page: Any, studio: Studio, tmp_path: Path) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    csv = tmp_path / "people.csv"
    csv.write_text("age,city,churn\n31,Oslo,0\n45,Bergen,1\n")
    page.set_input_files("#upload-data input[type=file]", str(csv))
    wait_doc(
        page,
        "s.nodes.length === 1 && s.nodes[0].op === 'import.csv' && s.nodes[0].params.path === 'data/people.csv'",
    )
    assert (studio.ws / "flows" / "data" / "people.csv").read_text() == csv.read_text()
    page.wait_for_selector("text=No problems: the flow is ready to run.", timeout=10000)
    # the file picker opens on the uploads folder; up from there, then the data folders
    nid = page.evaluate("() => SEER.snapshot().nodes[0].id")
    click_node(page, nid)
    page.click("[id*='browse'] >> text=Browse…")
    page.click("[id*='browse-dir'] >> text=⬑ ..")  # flows/
    page.click("[id*='browse-dir'] >> text=⬑ ..")  # the workspace
    page.click("[id*='browse-dir'] >> text=⬑ data folders")  # no higher: the roots
    page.wait_for_selector(f"[id*='browse-dir']:has-text('{studio.ws.root}')")
    page.screenshot(path=str(tmp_path / "picker.png"))
    page.click(f"[id*='browse-dir']:has-text('{studio.ws.root}')")
    page.click("[id*='browse-dir'] >> text=flows")
    page.click("[id*='browse-dir'] >> text=data")
    page.click("[id*='browse-file'] >> text=people.csv")
    wait_doc(page, "s.nodes[0].params.path.endsWith('/flows/data/people.csv')")
    # a file of another kind is refused with a message naming it
    bad = tmp_path / "notes.docx"
    bad.write_text("x")
    page.set_input_files("#upload-data input[type=file]", str(bad))
    page.wait_for_selector('.toast.show >> text="notes.docx" is not a CSV or Parquet file.')
    assert not (studio.ws / "flows" / "data" / "notes.docx").exists()
    wait_doc(page, "s.nodes.length === 1")


def test_stop_a_run_and_reattach_after_reload(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    nid = drop(page, "import.sample", 250, 150)
    click_node(page, nid)
    page.fill(f"#param-{nid}-rows input", "30000000")
    page.keyboard.press("Enter")
    wait_doc(page, "s.nodes[0].params.rows === 30000000")
    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-running", timeout=60000)
    page.wait_for_function(
        "() => SEER.getCy().nodes()[0].style('label').startsWith('▶')", timeout=60000
    )
    # the browser asks before leaving unsaved changes; the user reloads anyway: the page
    # reattaches to the run it started and the unsaved canvas comes back
    page.once("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.wait_for_selector("#run-status .pill.s-running", timeout=20000)
    page.wait_for_function(
        "() => window.SEER && SEER.getCy() && SEER.getCy().nodes().length === 1", timeout=20000
    )
    page.click("#btn-stop")
    page.wait_for_selector("#run-status .pill.s-cancelled", timeout=60000)
    page.wait_for_function(
        "() => SEER.getCy().nodes()[0].style('label').startsWith('■')", timeout=10000
    )
    shot(page, "stopped")


def test_named_collapsible_groups(page: Any, studio: Studio) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    sample = drop(page, "import.sample", 150, 150)
    split = drop(page, "split", 330, 150)
    sql = drop(page, "transform.sql", 600, 300)
    connect(page, sample, split)
    connect(page, split, sql)
    # train or test: the studio asks which output of the split the query reads
    page.click('#port-chooser [data-ports^="train->"]')
    wait_doc(page, "s.links.length === 2")
    # Ctrl+drag on the empty canvas draws a selection box
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    x1, y1 = node_point(page, sample)
    x2, y2 = node_point(page, split)
    page.keyboard.down("Control")
    page.mouse.move(x1 - 100, y1 - 60)
    page.mouse.down()
    page.mouse.move(x2 + 100, y2 + 60, steps=10)
    page.mouse.up()
    page.keyboard.up("Control")
    assert sorted(
        page.evaluate("() => SEER.getCy().$('node:selected').map(n => n.id())")
    ) == sorted([sample, split])
    page.click("#btn-group")
    wait_doc(page, "s.groups.length === 1 && s.groups[0].nodes.length === 2")
    gid = page.evaluate("() => SEER.snapshot().groups[0].id")
    page.wait_for_selector("#inspector h3:has-text('Group')")
    page.fill(f'[id=\'{{"node":"{gid}","type":"label"}}\']', "Data prep")
    page.keyboard.press("Enter")
    wait_doc(page, "s.groups[0].name === 'Data prep'")
    page.click("#btn-collapse")
    wait_doc(page, "s.groups[0].collapsed === true")
    page.wait_for_function(
        f"() => SEER.getCy().getElementById('{sample}').visible() === false", timeout=5000
    )
    assert page.evaluate(
        "() => SEER.getCy().edges('.meta').map(e => e.source().id() + '>' + e.target().id())"
    ) == [f"{gid}>{sql}"]
    shot(page, "group-collapsed")
    menu(page, "#btn-saveas")
    page.wait_for_selector("#modal:not(.hidden)")
    page.wait_for_timeout(300)
    page.fill("#modal-input", "grouped")
    page.click("#modal-ok")
    page.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    ui = saved_flow(studio, "grouped")["ui"]
    assert ui["groups"] == [
        {"id": gid, "name": "Data prep", "nodes": [sample, split], "collapsed": True}
    ]
    # a reload brings the collapsed group back; double-click expands it; Ungroup keeps the nodes
    page.reload()
    page.wait_for_function(
        f"() => window.SEER && SEER.getCy() && SEER.getCy().getElementById('{gid}').hasClass('collapsed')",
        timeout=20000,
    )
    page.wait_for_function(
        f"() => SEER.getCy().getElementById('{split}').visible() === false", timeout=5000
    )
    gx, gy = node_point(page, gid)
    page.mouse.dblclick(gx, gy)
    wait_doc(page, "s.groups[0].collapsed === false")
    page.wait_for_function(
        f"() => SEER.getCy().getElementById('{split}').visible() === true", timeout=5000
    )
    page.evaluate(
        f"() => {{ SEER.getCy().elements().unselect(); SEER.getCy().getElementById('{gid}').select(); }}"
    )
    page.click("#btn-ungroup")
    wait_doc(page, "s.groups.length === 0 && s.nodes.length === 3 && s.links.length === 2")
