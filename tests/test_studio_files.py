"""Flow files and data in a real browser: Save as, Rename, Duplicate, Delete, uploading a
CSV, the file picker, stopping a run and reattaching after a reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import studio_browser as sb
from tests.studio_browser import (
    Studio,
    click_node,
    drop,
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
        "() => SEER.getCy().nodes('[op]')[0].style('label').startsWith('▶')", timeout=60000
    )
    # the browser asks before leaving unsaved changes; the user reloads anyway: the page
    # reattaches to the run it started and the unsaved canvas comes back
    page.once("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.wait_for_selector("#run-status .pill.s-running", timeout=20000)
    page.wait_for_function(
        "() => window.SEER && SEER.getCy() && SEER.getCy().nodes('[op]').length === 1",
        timeout=20000,
    )
    page.click("#btn-stop")
    page.wait_for_selector("#run-status .pill.s-cancelled", timeout=60000)
    page.wait_for_function(
        "() => SEER.getCy().nodes('[op]')[0].style('label').startsWith('■')", timeout=10000
    )
    shot(page, "stopped")
