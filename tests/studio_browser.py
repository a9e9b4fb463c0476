"""What the studio's browser tests share: `seer studio` started as a user starts it (a separate
process, waitress, a real workspace), Debian's chromium driven by Playwright, and the gestures
of a user (drag an operator, draw a link, pick in a dropdown)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def badge_point(page: Any, node: str, direction: str, port: str) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    pos = page.evaluate(
        f"() => SEER.getCy().getElementById('{node}::{direction}::{port}').renderedPosition()"
    )
    return box["x"] + pos["x"], box["y"] + pos["y"]


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A plain drag (no Shift, Connect off), as a user pulls a link out of a port."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=6)
    page.mouse.move(*end, steps=6)
    time.sleep(0.35)  # the gesture snaps to its target a few times a second
    page.mouse.up()
    time.sleep(0.3)
