"""The studio a user can trust (real studio, real runs, chromium): it shows only what belongs to
the flow on the canvas, and it never throws away unsaved work without asking."""

from __future__ import annotations

import json
from typing import Any

from tests import studio_browser as ts
from tests.studio_browser import Studio, click_node, drop, saved_flow, shot, wait_doc

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
    return pg.evaluate("() => SEER.getCy().nodes('[op]').map(n => n.style('label'))")


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
        "() => SEER.getCy().nodes('[op]').every(n => !n.style('label').startsWith('✓'))",
        timeout=10000,
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
    # ... while the flow that ran shows its run's statuses there too
    _open(fresh, "loans")
    fresh.wait_for_function(
        "() => SEER.getCy().nodes('[op]').every(n => n.style('label').startsWith('✓'))",
        timeout=10000,
    )
    assert "Publish" in _output_of(fresh, "gbdt")
    fresh.context.close()
    assert saved_flow(studio, "adult")["id"] == given

    # back to the flow that ran: its results are there; change a param and they are out of date
    _open(page, "loans")
    assert "Publish" in _output_of(page, "gbdt")
    click_node(page, "split")
    page.fill("#param-split-ratio input", "0.7")
    page.keyboard.press("Enter")
    wait_doc(page, "s.nodes.find(n => n.id === 'split').params.ratio === 0.7")
    # on the canvas: the split and what it feeds are out of date, the data above it is not
    page.wait_for_function(
        "() => SEER.getCy().getElementById('gbdt').style('label').indexOf('out of date') >= 0",
        timeout=10000,
    )
    labels = dict(zip(["data", "split", "gbdt"], _labels(page), strict=True))
    assert labels["data"].startswith("✓") and "out of date" in labels["split"], labels
    text = _output_of(page, "gbdt")
    assert "out of date" in text.lower() and "Publish" not in text, text
    page.click("#bt-output")
    shot(page, "out-of-date-output")


def _dialog_open(pg: Any) -> bool:
    return "hidden" not in (pg.locator("#unsaved-dialog").get_attribute("class") or "")


def test_no_work_is_lost_without_asking(page: Any, studio: Studio, tmp_path: Any) -> None:
    flows = studio.ws / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "other.flow.json").write_text(json.dumps(_flow("other", 300, "other-flow")))
    drop(page, "import.sample", 200, 150)

    # the first Save asks for a name instead of calling the flow "untitled"
    page.click("#btn-save")
    page.wait_for_selector("#modal:not(.hidden) >> text=Name the flow to save it")
    shot(page, "first-save-asks-for-a-name")
    page.fill("#modal-input", "income model")
    page.click("#modal-ok")
    page.wait_for_function(
        "() => document.getElementById('flow-name').textContent === 'income model'"
    )
    first = saved_flow(studio, "income model")
    assert len(first["nodes"]) == 1 and first["id"]
    assert not (flows / "untitled.flow.json").exists()

    # New with unsaved changes asks; Cancel keeps everything
    split = drop(page, "split", 420, 150)
    page.wait_for_function(
        "() => document.getElementById('dirty').textContent.indexOf('unsaved') >= 0"
    )
    click_node(page, split)
    page.click("#btn-new")
    page.wait_for_selector("#unsaved-dialog:not(.hidden)")
    text = page.locator("#unsaved-dialog").inner_text()
    assert '"income model" has changes that are not saved' in text
    assert "Save" in text and "Discard changes" in text and "Cancel" in text
    assert not page.locator("#unsaved-name").is_visible()  # it has a file: Save needs no name
    shot(page, "unsaved-changes-on-new")
    page.click("#unsaved-cancel")
    page.wait_for_selector("#unsaved-dialog.hidden", state="attached")
    wait_doc(page, "s.nodes.length === 2")

    # Open with unsaved changes: Save writes them, then the Open dialog comes
    page.click("#btn-open")
    page.wait_for_selector("#unsaved-dialog:not(.hidden)")
    page.click("#unsaved-save")
    page.wait_for_selector("#modal:not(.hidden) >> text=Open a flow")
    saved = saved_flow(studio, "income model")
    assert len(saved["nodes"]) == 2 and saved["id"] == first["id"]
    page.click('.list-item:has(.fname:text-is("other"))')
    wait_doc(page, "s.nodes.length === 3")
    page.wait_for_function("() => document.getElementById('flow-name').textContent === 'other'")
    # the previous flow's inspector and run log are gone
    page.wait_for_function(
        "() => document.getElementById('inspector').innerText.indexOf('node id:') < 0",
        timeout=5000,
    )
    assert "3 nodes, 2 links" in page.locator("#inspector").inner_text()
    assert "Starting" not in page.locator("#run-log").inner_text()

    # Import with unsaved changes asks too; Discard replaces the canvas
    drop(page, "split", 300, 330)
    exported = tmp_path / "imported.flow.json"
    exported.write_text(json.dumps(_flow("imported", 200, "imported-flow")))
    page.set_input_files("#upload-flow input[type=file]", str(exported))
    page.wait_for_selector("#unsaved-dialog:not(.hidden)")
    assert "before you import a flow" in page.locator("#unsaved-dialog").inner_text()
    page.click("#unsaved-discard")
    page.wait_for_function("() => document.getElementById('flow-name').textContent === 'imported'")
    assert len(json.loads((flows / "other.flow.json").read_text())["nodes"]) == 3  # not saved

    # a flow never saved: the dialog asks for its name, and a taken name is refused
    page.click("#btn-open")
    page.wait_for_selector("#unsaved-dialog:not(.hidden)")
    assert page.locator("#unsaved-name").is_visible()
    page.fill("#unsaved-name", "other")
    page.click("#unsaved-save")
    page.wait_for_selector("#unsaved-error >> text=exists")
    page.fill("#unsaved-name", "imported copy")
    shot(page, "unsaved-changes-never-saved")
    page.click("#unsaved-save")
    page.wait_for_selector("#modal:not(.hidden) >> text=Open a flow")
    assert len(saved_flow(studio, "imported copy")["nodes"]) == 3
    assert _dialog_open(page) is False


def _leave(page: Any) -> bool:
    """Leave the studio (as closing the tab does, the page's beforeunload runs first); True
    when the page was left."""
    try:
        page.goto("about:blank", timeout=5000)
    except Exception:  # the user chose to stay: the navigation was aborted
        return False
    return page.url == "about:blank"


def test_closing_the_tab_with_unsaved_changes_asks(page: Any, studio: Studio) -> None:
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # "stay on this page"

    page.on("dialog", answer)
    drop(page, "import.sample", 200, 150)
    page.wait_for_function(
        "() => document.getElementById('dirty').textContent.indexOf('unsaved') >= 0"
    )
    assert not _leave(page)
    assert asked == ["beforeunload"]
    wait_doc(page, "s.nodes.length === 1")  # the user stayed: the canvas is as it was

    # saved, the tab goes without a word
    page.click("#btn-save")
    page.fill("#modal-input", "closing story")
    page.click("#modal-ok")
    page.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    assert _leave(page)
    assert asked == ["beforeunload"]


def test_an_ambiguous_link_asks_which_ports(page: Any, studio: Studio) -> None:
    """Split's two outputs are both linked; a second Predict linked from it could score either:
    the studio asks instead of picking `train` (a model scored on its own training rows)."""
    from tests.studio_browser import connect, links

    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    data = drop(page, "import.sample", 120, 120)
    split = drop(page, "split", 300, 120)
    model = drop(page, "train.gbdt", 480, 60)
    scored = drop(page, "predict", 660, 120)
    connect(page, data, split)
    connect(page, split, model)  # the same-named pair: train -> train
    connect(page, model, scored)
    connect(page, split, scored)  # the only output not yet used: test -> data
    wait_doc(page, "s.links.length === 4")
    assert f"{split}.train->{model}.train" in links(page)
    assert f"{split}.test->{scored}.data" in links(page)

    second = drop(page, "predict", 660, 300)
    connect(page, model, second)
    wait_doc(page, "s.links.length === 5")
    connect(page, split, second)  # train or test: both are linked already
    page.wait_for_selector("#port-chooser")
    choices = page.locator("#port-chooser .port-choice").all_inner_texts()
    assert sorted(choices) == ["test → data", "train → data"]
    shot(page, "ambiguous-link-chooser")
    page.wait_for_timeout(500)
    assert len(links(page)) == 5  # nothing linked until the user chooses
    page.click('#port-chooser [data-ports="test->data"]')
    wait_doc(page, "s.links.length === 6")
    assert f"{split}.test->{second}.data" in links(page)
    assert page.locator("#port-chooser").count() == 0
