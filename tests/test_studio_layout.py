"""The studio at a laptop's size (1280×800, then 1440×900 and 1920×1080), in chromium: one
header row, room for the canvas and for results, readable text everywhere (WCAG AA contrast,
toasts included), controls that say what they do."""

from __future__ import annotations

from typing import Any

import pytest

from tests import studio_browser as ts
from tests.studio_browser import Studio, drop, shot, wait_doc

studio = ts.studio
browser = ts.browser

# every visible text on the page whose contrast with what is behind it is under 4.5:1
LOW_CONTRAST = """() => {
  function parse(c) {
    const m = c && c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(',').map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function over(top, base) {
    const a = top.a;
    return {r: top.r * a + base.r * (1 - a), g: top.g * a + base.g * (1 - a),
            b: top.b * a + base.b * (1 - a), a: 1};
  }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function behind(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) layers.push(c);
      if (c && c.a >= 1) break;
    }
    let base = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
    return base;
  }
  function shown(el) {
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0) return false;
    }
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
      && r.top < innerHeight && r.left < innerWidth;
  }
  const bad = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const t = walk.currentNode, el = t.parentElement;
    if (!t.textContent.trim() || !el || !shown(el)) continue;
    if (el.closest('[disabled], button:disabled, svg')) continue;  // disabled controls are exempt
    const b = behind(el), fg = over(parse(getComputedStyle(el).color), b);
    const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) bad.push(`${t.textContent.trim().slice(0, 40)} (${el.className}): ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


@pytest.fixture()
def laptop(browser: Any, studio: Studio) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.goto(studio.url)
    pg.wait_for_function(
        "() => window.SEER && window.SEER.catalog && window.SEER.getCy()", timeout=20000
    )
    yield pg
    ctx.close()
    assert not pg.errors, pg.errors


def box(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def test_the_studio_fits_a_laptop_screen(laptop: Any) -> None:
    page = laptop
    page.click("#btn-open")
    page.click('.list-item:has(.fname:text-is("credit_risk_models"))')
    wait_doc(page, "s.nodes.length > 5")
    page.wait_for_timeout(500)
    shot(page, "layout-1280x800")

    # the header is one row: every part of it sits on the same line
    header = box(page, ".header")
    assert header["height"] <= 48, header
    tops = page.evaluate(
        "() => Array.from(document.querySelector('.header').children)"
        ".map(c => Math.round(c.getBoundingClientRect().top))"
    )
    assert max(tops) - min(tops) <= 8, tops
    # the canvas gets at least 450 px of height, the results panel a share too
    canvas = box(page, "#canvas")
    assert canvas["height"] >= 450, canvas
    assert box(page, "#bottom")["height"] >= 180

    # one "Delete" in sight (the flow file's delete is "Delete file…" in the More menu)
    visible = page.locator("button:visible", has_text="Delete")
    assert [visible.nth(i).inner_text() for i in range(visible.count())] == ["Delete"]
    page.click("#file-menu summary")
    assert page.locator("#btn-delete").inner_text() == "Delete file…"
    page.click("#file-menu summary")

    # Stop is active only while a run goes on
    assert page.locator("#btn-stop").is_disabled()

    # the results panel grows when its edge is dragged up, or takes the whole height
    edge = box(page, "#bottom-resizer")
    before = box(page, "#bottom")["height"]
    page.mouse.move(edge["x"] + 200, edge["y"] + 4)
    page.mouse.down()
    page.mouse.move(edge["x"] + 200, edge["y"] - 150, steps=6)
    page.mouse.up()
    assert box(page, "#bottom")["height"] >= before + 140
    assert box(page, "#canvas")["height"] >= 250
    page.click("#btn-results-size")
    page.wait_for_timeout(200)
    assert box(page, "#bottom")["height"] >= 650
    shot(page, "layout-1280x800-results-full")
    page.click("#btn-results-size")
    page.wait_for_timeout(200)
    assert box(page, "#canvas")["height"] >= 250


def test_text_is_readable_everywhere_toasts_included(laptop: Any) -> None:
    page = laptop
    node = drop(page, "import.csv", 300, 200)  # a problem: no path yet
    page.wait_for_selector(".problem")
    ts.click_node(page, node)
    assert page.evaluate(LOW_CONTRAST) == []
    for kind in ("error", "info"):
        page.evaluate(f"() => SEER.toast('Cannot read data/x.csv: no such file', '{kind}')")
        page.wait_for_timeout(300)
        colours = page.evaluate(
            "() => { const s = getComputedStyle(document.getElementById('toast'));"
            " return [s.color, s.backgroundColor, s.opacity]; }"
        )
        assert colours[2] == "1", colours
        assert page.evaluate(LOW_CONTRAST) == [], colours
    shot(page, "toast-error-1280x800")
    for name in ("page-runs", "page-models"):
        page.click(f"#{name}")
        page.wait_for_timeout(500)
        assert page.evaluate(LOW_CONTRAST) == [], name


def test_column_pickers_fill_as_soon_as_a_link_is_drawn(laptop: Any) -> None:
    page = laptop
    data = drop(page, "import.sample", 250, 200)
    model = drop(page, "train.gbdt", 600, 200)
    ts.click_node(page, model)
    label = f"#param-{model}-label"
    assert "link an input to list its columns" in page.locator(label).inner_text()
    ts.connect(page, data, model)  # the node stays selected: no click on it again
    wait_doc(page, "s.links.length === 1")
    page.wait_for_function(
        f"() => document.querySelector('{label}').innerText.indexOf('choose a column') >= 0",
        timeout=10000,
    )
    ts.choose(page, label, "default")
    wait_doc(page, f"s.nodes.find(n => n.id === '{model}').params.label === 'default'")


def test_the_feature_editor_opens_wide_and_its_lists_show(laptop: Any) -> None:
    page = laptop
    data = drop(page, "import.sample", 200, 200)
    feats = drop(page, "features.extract", 520, 200)
    ts.connect(page, data, feats)
    wait_doc(page, "s.links.length === 1")
    ts.click_node(page, feats)
    page.click(f"#param-{feats}-features .fedit-open")
    page.wait_for_selector("#feature-editor:not(.hidden) .fe-table", timeout=20000)
    assert box(page, ".fe-dialog")["width"] >= 1200  # the window's width, not the inspector's
    # the kinds are the browser's own lists: they open over everything, never clipped
    assert page.evaluate(
        "() => [...document.querySelectorAll('#fe-body .fe-kind')].every(e => e.tagName === 'SELECT')"
    )
    page.select_option("#fe-label", "default")
    page.select_option('#fe-body select.fe-kind[data-col="age"]', "continuous")
    shot(page, "feature-editor-1280x800")
    wait_doc(
        page,
        f"(s.nodes.find(n => n.id === '{feats}').params.features || [])"
        ".some(f => f.column === 'age' && f.kind === 'continuous')",
    )
    page.keyboard.press("Escape")
    page.wait_for_selector("#feature-editor.hidden", state="attached")
    page.wait_for_selector(f"#fsummary-{feats}-features .ftable")
