"""The login story in a real browser (Debian's chromium, Playwright) against `seer studio`
started as a user starts it, with users configured in its workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.users import Users
from engine.workspace import Workspace
from tests.studio_browser import (  # noqa: F401  (browser: a fixture)
    CHROMIUM,
    Studio,
    browser,
    click_node,
    drop,
    saved_flow,
    shot,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt install chromium)",
    ),
]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    root = tmp_path_factory.mktemp("studio-login")
    users = Users(Workspace(root / "ws").store)
    users.add("ana", "admin", "admin-pass-1")
    users.add("vic", "viewer", "viewer-pass-1")
    s = Studio(root)
    yield s
    s.stop()


def log_in(page: Any, name: str, password: str) -> None:
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login-submit")


def test_log_in_see_who_you_are_and_log_out(browser: Any, studio: Studio) -> None:  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(studio.url)
    page.wait_for_selector("#login-submit")
    assert page.url.startswith(studio.url + "login")
    shot(page, "login-page")

    log_in(page, "ana", "not-the-password")
    assert page.inner_text("#login-error") == "Wrong user name or password."
    assert page.input_value("#name") == "ana"  # kept, only the password is typed again
    shot(page, "login-wrong-password")

    log_in(page, "ana", "admin-pass-1")
    page.wait_for_selector("#canvas canvas", timeout=20000)
    page.wait_for_selector("#who-name")
    assert page.inner_text("#who") == "ana · admin ▾"
    assert page.evaluate("() => document.querySelector('.header').offsetHeight") < 50  # one row
    shot(page, "studio-logged-in-admin")
    # admins find the Audit page in their menu, with this login in it
    page.click("#who")
    shot(page, "studio-user-menu")
    page.click("#page-audit")
    page.wait_for_selector("#audit-page table")
    assert "login" in page.inner_text("#audit-page") and "ana" in page.inner_text("#audit-page")

    page.click("#who")
    page.click("#btn-logout")
    page.wait_for_selector("#login-submit")
    page.goto(studio.url)
    page.wait_for_selector("#login-submit")  # the session ended

    # a viewer sees the canvas; the controls of other roles are disabled, with the reason
    log_in(page, "vic", "viewer-pass-1")
    page.wait_for_selector("#who-name")
    page.wait_for_function("() => document.getElementById('btn-save').disabled")
    assert (
        page.get_attribute("#btn-run", "title")
        == "Your role (viewer) cannot run flows: it needs editor."
    )
    page.click("#who")
    assert page.is_visible("#btn-logout")
    assert not page.is_visible("#page-audit") and not page.is_visible("#upload-data")
    shot(page, "studio-logged-in-viewer")
    click_node(page, drop(page, "import.csv", 300, 200))
    browse = page.locator("#inspector button:has-text('Browse…')")
    assert browse.is_disabled()
    assert browse.get_attribute("title") == "Your role (viewer) cannot edit flows: it needs editor."
    # a request the page would not send is refused by the server, and the page says why
    page.evaluate(
        """() => window.dash_clientside.set_props('upload-data',
             {contents: 'data:text/csv;base64,YSxiCjEsMgo=', filename: 'sneaky.csv'})"""
    )
    page.wait_for_selector("#toast:has-text('Your role (viewer) cannot upload data')")
    assert not (studio.ws / "flows" / "data" / "sneaky.csv").exists()
    shot(page, "studio-viewer-refused")
    # the password changes elsewhere: the next action of this page leads back to the login
    Users(Workspace(studio.ws).store).set_password("vic", "viewer-pass-2")
    page.click("#page-runs")
    page.wait_for_selector("#login-submit")
    ctx.close()
    assert not errors, errors


def test_two_users_saving_the_same_flow(browser: Any, studio: Studio) -> None:  # noqa: F811
    """The second save of a flow someone else saved meanwhile asks instead of overwriting."""
    (studio.ws / "flows" / "team.flow.json").write_text(
        json.dumps({"seer_flow": 1, "name": "team", "nodes": [], "links": []})
    )
    pages = []
    for _ in range(2):
        ctx = browser.new_context(viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        page.goto(studio.url)
        log_in(page, "ana", "admin-pass-1")
        page.wait_for_function("() => window.SEER && window.SEER.catalog && window.SEER.getCy()")
        page.click("#btn-open")
        page.click("[id*='open-flow'] >> text=team")
        page.wait_for_function("() => document.getElementById('flow-name').textContent === 'team'")
        pages.append(page)
    first, second = pages
    drop(second, "import.sample", 250, 150)
    # the canvas has sent its change (else Save would save the flow as it was)
    second.wait_for_function("() => document.getElementById('dirty').textContent !== ''")
    second.click("#btn-save")
    second.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    assert len(saved_flow(studio, "team")["nodes"]) == 1

    drop(first, "split", 250, 150)
    drop(first, "split", 450, 150)
    first.click("#btn-save")
    first.wait_for_selector("#modal-title:has-text('changed since you opened it')")
    shot(first, "flow-changed-on-disk")
    assert len(saved_flow(studio, "team")["nodes"]) == 1  # nothing overwritten
    first.click("#modal-body button:has-text('Overwrite')")
    first.wait_for_selector("#modal.hidden", state="attached")
    first.wait_for_function("() => document.getElementById('dirty').textContent === ''")
    assert [n["op"] for n in saved_flow(studio, "team")["nodes"]] == ["split", "split"]
    for page in pages:
        page.context.close()
