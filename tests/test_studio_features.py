"""The feature editor in a real browser: an analyst configures the features of an income
model on UCI Adult through the wide editor, quickly, and runs the flow.

The Adult data is read from ../shared/data (next to the project); the test skips when it is
absent, as it is in a fresh clone."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests import studio_browser as sb
from tests.studio_browser import Studio, click_node, connect, drop, shot, wait_doc

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult_train.csv"
ROWS = 4000  # a sample keeps the story quick

pytestmark = [
    sb.pytestmark,
    pytest.mark.skipif(not ADULT.exists(), reason=f"UCI Adult is not in {ADULT.parent}"),
]
studio = sb.studio
browser = sb.browser
page = sb.page


def adult_sample(folder: Path, rows: int = ROWS) -> Path:
    out = folder / "adult.csv"
    with ADULT.open(newline="") as src, out.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return out


def upload(page: Any, path: Path) -> str:
    page.set_input_files("#upload-data input[type=file]", str(path))
    wait_doc(page, f"s.nodes.some(n => n.params.path === 'data/{path.name}')")
    return page.evaluate(
        f"() => SEER.snapshot().nodes.find(n => n.params.path === 'data/{path.name}').id"
    )


def features_of(page: Any, nid: str) -> list[dict[str, Any]]:
    return page.evaluate(f"() => SEER.snapshot().nodes.find(n => n.id === '{nid}').params.features")


def kind(page: Any, column: str, value: str) -> None:
    page.select_option(f'#fe-body select.fe-kind[data-col="{column}"]', value)


def row_text(page: Any, column: str) -> str:
    return page.inner_text(f'#fe-body tr[data-col="{column}"]')


def open_editor(page: Any, nid: str) -> None:
    click_node(page, nid)
    page.click(f"#param-{nid}-features .fedit-open")
    page.wait_for_selector("#feature-editor:not(.hidden) .fe-table", timeout=20000)


def build(page: Any, tmp_path: Path) -> tuple[str, str, str, str]:
    """Upload Adult, then split, extract features and train an LR, linked by mouse."""
    data = upload(page, adult_sample(tmp_path))
    split = drop(page, "split", 280, 200)
    feats = drop(page, "features.extract", 460, 120)
    lr = drop(page, "train.hdlr", 640, 200)
    connect(page, data, split)
    connect(page, split, feats)
    connect(page, feats, lr)
    wait_doc(page, "s.links.length === 3")
    return data, split, feats, lr


def edit_quickly(page: Any) -> float:
    """Label, kinds, settings and a cross, one after the other with no waiting in between;
    returns the seconds it took."""
    t0 = time.perf_counter()
    page.select_option("#fe-label", "income_gt_50k")  # the other columns get suggested kinds
    page.wait_for_function("() => document.querySelectorAll('#fe-body select.fe-kind').length")
    # suggestions from type and statistics: a number with many values is bucketed, text is
    # discrete, and the figures are the data's
    assert page.input_value('select.fe-kind[data-col="age"]') == "bucket"
    assert page.input_value('select.fe-kind[data-col="workclass"]') == "discrete"
    assert "Private" in row_text(page, "workclass")  # vocabulary preview
    assert "6.9 %" in row_text(page, "workclass")  # missing share (empty fields)
    assert page.locator('#fe-body tr[data-col="age"] .spark .bar').count() >= 10  # its histogram
    kind(page, "fnlwgt", "ignore")
    kind(page, "education_num", "ignore")
    kind(page, "capital_loss", "ignore")
    kind(page, "age", "continuous")
    page.check('#fe-body input[data-col="age"][data-opt="clip"]')
    kind(page, "capital_gain", "continuous")
    page.uncheck('#fe-body input[data-col="capital_gain"][data-opt="standardize"]')
    page.check('#fe-body input[data-col="capital_gain"][data-opt="log1p"]')
    page.fill('#fe-body input[data-col="hours_per_week"][data-opt="buckets"]', "5")
    page.fill('#fe-body input[data-col="native_country"][data-opt="min_count"]', "20")
    page.check('#fe-body input.fe-pick[data-col="education"]')
    page.check('#fe-body input.fe-pick[data-col="sex"]')
    page.click("#fe-cross-btn")
    return time.perf_counter() - t0


def check_configuration(defs: list[dict[str, Any]]) -> None:
    by_col = {d.get("column"): d for d in defs if d["kind"] != "combine"}
    assert len(defs) == 12
    assert set(by_col) == {
        "age",
        "workclass",
        "education",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "capital_gain",
        "hours_per_week",
        "native_country",
    }
    assert by_col["age"] == {
        "kind": "continuous",
        "column": "age",
        "transform": ["clip", "standardize"],
    }
    assert by_col["capital_gain"]["transform"] == ["log1p"]
    assert by_col["hours_per_week"]["buckets"] == 5
    assert by_col["native_country"]["min_count"] == 20
    assert defs[-1] == {
        "kind": "combine",
        "of": [{"kind": "discrete", "column": "education"}, {"kind": "discrete", "column": "sex"}],
    }


def check_nothing_clipped(page: Any) -> None:
    """Every list the editor opens is the browser's own, so nothing clips it; the kind picker
    of the last row is on screen and nothing covers it."""
    last = page.locator("#fe-body select.fe-kind").last
    last.scroll_into_view_if_needed()
    b = last.bounding_box()
    on_top = page.evaluate(
        f"() => document.elementFromPoint({b['x'] + b['width'] / 2}, {b['y'] + b['height'] / 2})"
        ".matches('select.fe-kind')"
    )
    assert on_top and b["y"] + b["height"] <= 800


def test_configure_twelve_adult_features_in_the_editor_and_run(
    page: Any, studio: Studio, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    _data, split, feats, lr = build(page, tmp_path)

    # before the input has run: the editor says so and lists the columns with their types
    open_editor(page, feats)
    note = page.inner_text("#fe-note")
    assert "has not run yet" in note, note
    assert "int" in row_text(page, "age") and "string" in row_text(page, "workclass")
    shot(page, "feature-editor-before-run")
    page.click("#fe-done")
    page.wait_for_selector("#feature-editor.hidden", state="attached")

    # run the input (Run to here needs only what feeds it), then reopen: the split's figures
    click_node(page, split)
    page.click("#btn-run-to")
    page.wait_for_selector("#run-status .pill.s-succeeded", timeout=180000)
    open_editor(page, feats)
    assert "Statistics of" in page.inner_text("#fe-note")
    box = page.locator(".fe-dialog").bounding_box()
    assert box["width"] >= 1200 and box["height"] >= 740  # the window, not the inspector

    editing_seconds = edit_quickly(page)
    preview = page.inner_text('#fe-body tr[data-col="hours_per_week"] .fe-preview')
    assert "boundaries" in preview and "40" in preview, preview
    check_nothing_clipped(page)
    assert page.inner_text("#fe-summary") == "12 features (11 columns, 1 cross)"
    assert "Choose the label first" not in page.inner_text("#fe-head")
    page.evaluate("() => { document.getElementById('fe-body').scrollTop = 0; }")
    shot(page, "feature-editor-adult")
    defs = features_of(page, feats)
    check_configuration(defs)

    # the text form holds the same configuration; a power user's edit there shows in the rows
    page.click(".fe-text summary")
    assert json.loads(page.input_value("#fe-json")) == defs
    edited = [*defs[:-1], {**defs[-1], "name": "education_by_sex"}]
    edited[1] = {**edited[1], "min_count": 7}  # workclass
    page.fill("#fe-json", json.dumps(edited))
    assert page.input_value('#fe-body input[data-col="workclass"][data-opt="min_count"]') == "7"
    page.click("#fe-done")
    page.wait_for_selector("#feature-editor.hidden", state="attached")
    assert features_of(page, feats) == edited
    page.wait_for_selector(f"#fsummary-{feats}-features:has-text('12 features (1 cross)')")
    # the inspector's summary of the configuration fits its panel: nothing cut off at the side
    table = page.locator(f"#fsummary-{feats}-features .ftable").bounding_box()
    panel = page.locator(".inspector").bounding_box()
    assert table["x"] + table["width"] <= panel["x"] + panel["width"], (table, panel)
    shot(page, "feature-summary-inspector")

    # the model and a run: the configuration trains
    click_node(page, lr)
    sb.choose(page, f"#param-{lr}-label", "income_gt_50k")
    page.wait_for_selector("text=No problems: the flow is ready to run.", timeout=15000)
    page.click("#btn-run")
    page.wait_for_selector("#run-status .pill.s-succeeded", timeout=240000)
    shot(page, "feature-editor-ran")
    (sb.SHOTS / "feature-editor.json").write_text(json.dumps({"editing_s": editing_seconds}))
    assert editing_seconds < 30, editing_seconds  # no edit waits for the server
