"""The login story in a real browser (Debian's chromium, Playwright) against `seer studio`
started as a user starts it, with users configured in its workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.users import Users
from engine.workspace import Workspace
from tests.test_studio import CHROMIUM, Studio, browser, shot  # noqa: F401  (browser: fixture)

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
    ctx.close()
    assert not errors, errors
