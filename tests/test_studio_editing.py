"""Editing on the canvas in a real browser: refused links, delete/undo/redo/copy/paste,
export and import, a failing node's message, the problems panel, named groups."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests import studio_browser as sb
from tests.studio_browser import (
    Studio,
    click_node,
    connect,
    drop,
    links,
    menu,
    node_point,
    saved_flow,
    shot,
    wait_doc,
)

pytestmark = sb.pytestmark
# one studio process and one chromium for this module
studio = sb.studio
browser = sb.browser
page = sb.page


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
