"""Ports on the canvas in a real browser: every node shows its inputs and outputs as labelled
badges, a link drawn from an output badge to an input badge joins exactly those two ports, and
link labels stay readable after Fit."""

from __future__ import annotations

from typing import Any

from tests import studio_browser as sb
from tests.studio_browser import badge_point, drag, drop, links, shot, wait_doc

pytestmark = sb.pytestmark
studio = sb.studio
browser = sb.browser
page = sb.page


def open_sample(page: Any, name: str) -> None:
    page.click("#btn-open")
    page.click(f'.list-item:has(.fname:text-is("{name}"))')
    page.wait_for_function("() => SEER.snapshot().nodes.length > 5", timeout=20000)


def test_ports_show_on_every_node_and_labels_read_after_fit(page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    open_sample(page, "credit_risk_models")
    page.click("#btn-fit")
    page.wait_for_timeout(400)
    # one badge per port of every node, labelled with the port's name, beside its node
    per_node = page.evaluate(
        """() => { const cy = SEER.getCy(), out = {};
        cy.nodes('[op]').forEach(n => {
          const spec = SEER.catalog[n.data('op')];
          const badges = cy.nodes('.port').filter(b => b.data('portOf') === n.id());
          const bb = n.boundingBox();
          out[n.id()] = {
            want: spec.inputs.length + spec.outputs.length,
            have: badges.length,
            labels: badges.map(b => b.data('label')).sort(),
            beside: badges.every(b => Math.abs(b.position('y') - n.position('y')) < bb.h / 2),
          }; });
        return out; }"""
    )
    assert per_node and all(v["want"] == v["have"] and v["beside"] for v in per_node.values())
    assert per_node["split"]["labels"] == ["in", "test", "train"]
    # text a person can read at the zoom Fit chose: link labels at >= 10 px on screen, node
    # names and port badges at >= 7.5 px
    sizes = page.evaluate(
        """() => { const cy = SEER.getCy(), z = cy.zoom();
        return { zoom: z,
          links: Math.min(...cy.edges().filter(e => e.data('sourcePort'))
                   .map(e => parseFloat(e.style('font-size')) * z)),
          badges: Math.min(...cy.nodes('.port').map(b => parseFloat(b.style('font-size')) * z)),
          nodes: Math.min(...cy.nodes('[op]').map(n => parseFloat(n.style('font-size')) * z)) }; }"""
    )
    assert sizes["zoom"] < 1  # the sample does not fit at 100 %: the test means something
    assert sizes["links"] >= 10 and sizes["badges"] >= 7.5 and sizes["nodes"] >= 7.5, sizes
    shot(page, "canvas-ports-fit")


def test_a_link_joins_the_ports_dragged_from_and_dropped_on(page: Any) -> None:
    page.click("#btn-new")
    wait_doc(page, "s.nodes.length === 0")
    data = drop(page, "import.sample", 120, 120)
    split = drop(page, "split", 340, 120)
    pred = drop(page, "predict", 600, 260)
    # a badge says what it is when the pointer rests on it
    page.mouse.move(*badge_point(page, split, "out", "test"))
    page.wait_for_function("() => SEER.getCy().container().title.startsWith('test (table)')")
    assert "Drag from here" in page.evaluate("() => SEER.getCy().container().title")
    # from the split's "test" badge to the predict's "data" badge: exactly that, nothing asked
    drag(page, badge_point(page, split, "out", "test"), badge_point(page, pred, "in", "data"))
    wait_doc(page, "s.links.length === 1")
    assert links(page) == {f"{split}.test->{pred}.data"}
    assert page.locator("#port-chooser").count() == 0
    # the link leaves from the test badge and arrives at the data badge
    ends = page.evaluate(
        """() => { const cy = SEER.getCy(), e = cy.edges('[sourcePort]')[0];
        const near = (p, b) => Math.abs(p.x - b.position('x')) <= b.width() &&
                               Math.abs(p.y - b.position('y')) <= b.height();
        return [near(e.sourceEndpoint(), cy.getElementById(e.source().id() + '::out::test')),
                near(e.targetEndpoint(), cy.getElementById(e.target().id() + '::in::data'))]; }"""
    )
    assert ends == [True, True]
    # a table output dropped on the model input is refused, naming both ports
    drag(page, badge_point(page, split, "out", "train"), badge_point(page, pred, "in", "model"))
    toast = page.wait_for_selector(".toast.show", timeout=5000).inner_text()
    assert "train (table)" in toast and "model (model)" in toast, toast
    assert len(links(page)) == 1
    # dragged from an output badge and dropped on the node's body: the only free input that fits
    drag(page, badge_point(page, data, "out", "out"), sb.node_point(page, split))
    wait_doc(page, "s.links.length === 2")
    assert f"{data}.out->{split}.in" in links(page)
    shot(page, "canvas-ports-linked")
