"""Login, roles, Host and cross-site checks of the studio, through its real HTTP server (waitress)
with a real HTTP client, posting the callback bodies the browser posts."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import audit
from engine.users import Users
from engine.workspace import Workspace
from tests.studio_http import callback_payload, client, login, studio_server

PASSWORDS = {
    "ana": ("admin", "admin-pass-1"),
    "pia": ("publisher", "publisher-pass-1"),
    "eli": ("editor", "editor-pass-1"),
    "vic": ("viewer", "viewer-pass-1"),
    "tom": ("viewer", "tom-pass-123"),
}
ROLE_USER = {"viewer": "vic", "editor": "eli", "publisher": "pia", "admin": "ana"}
SHARED_FLOW = {
    "seer_flow": 1,
    "name": "shared",
    "nodes": [{"id": "gen", "op": "import.sample", "params": {"dataset": "credit_risk"}}],
    "links": [],
}
UPDATE = "/_dash-update-component"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("access") / "ws")
    users = Users(ws.store)
    for name, (role, password) in PASSWORDS.items():
        users.add(name, role, password)
    ws.flows_dir.mkdir(parents=True)
    (ws.flows_dir / "shared.flow.json").write_text(json.dumps(SHARED_FLOW))
    return ws


@pytest.fixture(scope="module")
def app(ws: Workspace) -> Iterator[Any]:
    with studio_server(ws, trusted_proxy="127.0.0.1") as app:
        yield app


@pytest.fixture(scope="module")
def clients(app: Any) -> dict[str, httpx.Client]:
    out = {role: login(app, name, PASSWORDS[name][1]) for role, name in ROLE_USER.items()}
    out["anonymous"] = client(app)
    return out


def meta(name: str = "shared", file: str | None = "shared") -> dict[str, Any]:
    return {"name": name, "file": file, "description": "", "params": {}, "ui": {}, "saved": None}


DOC = {"nodes": [{"id": "gen", "op": "import.sample", "params": {"dataset": "credit_risk"}}]}
CSV = "data:text/csv;base64," + base64.b64encode(b"a,b\n1,2\n").decode()


def action_body(app: Any, action: str, role: str) -> dict[str, Any]:
    """The browser's request for each action of the matrix."""
    if action == "open flow":
        return callback_payload(
            app, "files", ({"type": "open-flow", "name": "shared"}, "n_clicks", 1)
        )
    if action == "save":
        return callback_payload(
            app,
            "files",
            ("btn-save", "n_clicks", 1),
            {("doc", "data"): {**DOC, "links": []}, ("meta", "data"): meta()},
        )
    if action == "run":  # an unknown operator: the run is refused by validation, not by role
        return callback_payload(
            app,
            "run_control",
            ("btn-run", "n_clicks", 1),
            {("doc", "data"): {"nodes": [{"id": "x", "op": "no.such.op"}], "links": []}},
        )
    if action == "upload":
        return callback_payload(
            app,
            "upload_data",
            ("upload-data", "contents", CSV),
            {("upload-data", "filename"): f"by-{role}.csv"},
        )
    if action == "publish":
        return callback_payload(
            app,
            "publish",
            ("modal-ok", "n_clicks", 1),
            {
                ("modal-state", "data"): {"action": "publish", "node": "train"},
                ("modal-input", "value"): "churn",
            },
        )
    if action in ("promote", "canary", "rollback"):
        tid = {"type": "model-act", "name": "churn", "version": 1, "act": action}
        return callback_payload(app, "model_action", (tid, "n_clicks", 1))
    if action == "add user":
        return callback_payload(
            app,
            "user_action",
            ("user-add", "n_clicks", 1),
            {
                ("user-name", "value"): f"new-{role}",
                ("user-role", "value"): "viewer",
                ("user-password", "value"): "new-user-pass",
            },
        )
    if action == "view audit":
        return callback_payload(app, "audit_page", ("page", "data", "audit"))
    raise AssertionError(action)


ALLOWED = {
    "open flow": {"viewer", "editor", "publisher", "admin"},
    "save": {"editor", "publisher", "admin"},
    "run": {"editor", "publisher", "admin"},
    "upload": {"editor", "publisher", "admin"},
    "publish": {"publisher", "admin"},
    "promote": {"publisher", "admin"},
    "canary": {"publisher", "admin"},
    "rollback": {"publisher", "admin"},
    "add user": {"admin"},
    "view audit": {"admin"},
}


@pytest.mark.parametrize("action", list(ALLOWED))
@pytest.mark.parametrize("role", ["anonymous", "viewer", "editor", "publisher", "admin"])
def test_roles_matrix(
    app: Any, ws: Workspace, clients: dict[str, httpx.Client], role: str, action: str
) -> None:
    r = clients[role].post(UPDATE, json=action_body(app, action, role))
    if role == "anonymous":
        assert r.status_code == 401
        return
    if role not in ALLOWED[action]:
        assert r.status_code == 403, r.text
        assert f"Your role ({role}) cannot" in r.json()["error"]
        return
    assert r.status_code == 200, r.text
    body = r.json()["response"]
    # what the user then sees: the action really happened, or the engine's own answer
    if action == "open flow":
        assert body["meta"]["data"]["file"] == "shared"
    elif action == "save":
        assert body["toast-msg"]["data"]["msg"] == 'Saved "shared".'
    elif action == "run":
        assert "problem" in body["toast-msg"]["data"]["msg"]
    elif action == "upload":
        assert (ws.flows_dir / "data" / f"by-{role}.csv").read_text() == "a,b\n1,2\n"
    elif action == "publish":
        assert "no trained model yet" in body["modal-error"]["children"]
    elif action in ("promote", "canary", "rollback"):
        assert 'No model named "churn"' in body["toast-msg"]["data"]["msg"]
    elif action == "add user":
        assert Users(ws.store).get(f"new-{role}").role == "viewer"
    elif action == "view audit":
        assert "Audit log" in json.dumps(body)


def test_denied_actions_are_audited(app: Any, ws: Workspace, clients: dict) -> None:
    r = clients["viewer"].post(UPDATE, json=action_body(app, "save", "viewer"))
    assert r.status_code == 403
    entry = audit.entries(ws.store, 1)[0]
    assert (entry["actor"], entry["action"], entry["outcome"]) == ("vic", "save", "denied")
    r = clients["editor"].post(UPDATE, json=action_body(app, "save", "editor"))
    assert r.status_code == 200
    entry = audit.entries(ws.store, 1)[0]
    assert (entry["actor"], entry["action"], entry["flow"], entry["outcome"]) == (
        "eli",
        "flow.save",
        "shared",
        "ok",
    )


@pytest.mark.parametrize(
    "fn, action",
    [
        ("files", "save"),
        ("run_control", "run"),
        ("upload_data", "upload"),
        ("publish", "publish"),
        ("model_action", "rollback"),
        ("user_action", "add user"),
    ],
)
def test_the_callbacks_check_the_role_themselves(
    app: Any, ws: Workspace, clients: dict, monkeypatch: pytest.MonkeyPatch, fn: str, action: str
) -> None:
    """Were the policy in front of Dash wrong, the callback doing the work still refuses."""
    from studio import policy

    monkeypatch.setitem(policy.RULES, fn, lambda trig, body: "view")
    r = clients["viewer"].post(UPDATE, json=action_body(app, action, "viewer"))
    assert r.status_code == 403 and "Your role (viewer) cannot" in r.json()["error"]
    entry = audit.entries(ws.store, 1)[0]
    assert entry["actor"] == "vic" and entry["outcome"] == "denied"
    assert not (ws.flows_dir / "data" / "by-viewer.csv").exists()
    assert Users(ws.store).get("new-viewer") is None


def test_the_policy_reads_any_body_without_failing(app: Any) -> None:
    """Whatever a client posts, the policy names an action (unknown shapes need admin)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from engine.users import ACTIONS
    from studio.policy import STRICTEST, action_of

    known = list(app.callback_map)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=10,
    )
    keys = st.sampled_from(["type", "act", "choice", "name", "node"])  # the studio's id keys
    prop_ids = st.one_of(
        st.text(max_size=30),
        st.sampled_from(["btn-save.n_clicks", "modal-ok.n_clicks", "page.data"]),
        st.builds(
            lambda d: json.dumps(d) + ".n_clicks",
            st.dictionaries(keys, json_values, max_size=3),
        ),
    )
    bodies = st.fixed_dictionaries(
        {},
        optional={
            "output": st.one_of(st.sampled_from(known), json_values),
            "changedPropIds": st.one_of(st.lists(prop_ids, max_size=3), json_values),
            "state": json_values,
            "inputs": json_values,
        },
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(body: dict[str, Any]) -> None:
        assert action_of(app, body) in {*ACTIONS, STRICTEST}

    check()


def test_a_forged_host_is_refused(app: Any) -> None:
    c = client(app, Host="rebind.attacker.example")
    for r in (c.get("/"), c.get("/_dash-layout"), c.post(UPDATE, json={})):
        assert r.status_code == 400
        assert "--allowed-host rebind.attacker.example" in r.json()["error"]
    assert (
        client(app, Host=f"localhost:{app.base_url.rsplit(':', 1)[1]}").get("/").status_code == 302
    )


def test_cross_site_requests_are_refused(app: Any, ws: Workspace) -> None:
    admin = login(app, "ana", PASSWORDS["ana"][1])
    body = action_body(app, "save", "admin")
    before = (ws.flows_dir / "shared.flow.json").stat().st_mtime_ns
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": app.base_url, "Sec-Fetch-Site": "cross-site"},
        {"Origin": "", "Referer": "http://evil.example/page"},
    ):
        r = admin.post(UPDATE, json=body, headers=headers)
        assert r.status_code == 403 and "another site" in r.json()["error"], headers
    bare = httpx.Client(base_url=app.base_url, cookies=admin.cookies)  # no Origin, no Referer
    assert bare.post(UPDATE, json=body).status_code == 403
    # a login form posted from another site is refused too
    r = client(app, Origin="http://evil.example").post(
        "/login", data={"name": "ana", "password": PASSWORDS["ana"][1]}
    )
    assert r.status_code == 403
    assert (ws.flows_dir / "shared.flow.json").stat().st_mtime_ns == before
    assert (
        admin.post(UPDATE, json=body, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    )


def test_without_a_session_there_is_only_the_login_page(app: Any) -> None:
    anon = client(app)
    r = anon.get("/")
    assert r.status_code == 302 and r.headers["location"].startswith("/login")
    for path in ("/_dash-layout", "/_dash-dependencies", "/studio/api/catalog"):
        assert anon.get(path).status_code == 401, path
    assert anon.post(UPDATE, json=action_body(app, "run", "anonymous")).status_code == 401
    page = anon.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert anon.get("/assets/20_seer.css").status_code == 200  # the login page's look
    # a tampered cookie is no session
    forged = client(app)
    forged.cookies.set("seer_session", "eyJ1c2VyIjoiYW5hIn0.forged.signature")
    assert forged.get("/").status_code == 302


def test_cookie_flags_logout_and_password_change_end_sessions(app: Any, ws: Workspace) -> None:
    c = client(app)
    r = c.post("/login", data={"name": "tom", "password": PASSWORDS["tom"][1], "next": "//evil"})
    assert r.status_code == 302 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert c.get("/").status_code == 200
    assert c.post("/logout").status_code == 302
    assert c.get("/").status_code == 302
    # behind an https proxy (here the trusted 127.0.0.1) the cookie is Secure
    https = client(app, **{"X-Forwarded-Proto": "https"})
    https.headers["Origin"] = https.headers["Origin"].replace("http:", "https:")
    r = https.post("/login", data={"name": "tom", "password": PASSWORDS["tom"][1]})
    assert "Secure" in r.headers["set-cookie"]
    # a password change ends the sessions opened with the old one
    c2 = login(app, "tom", PASSWORDS["tom"][1])
    assert c2.get("/").status_code == 200
    Users(ws.store).set_password("tom", "changed-pass-1")
    assert c2.get("/").status_code == 302
    Users(ws.store).set_password("tom", PASSWORDS["tom"][1])


def test_failed_logins_are_slowed_and_audited(app: Any, ws: Workspace) -> None:
    c = client(app)
    codes = [
        c.post("/login", data={"name": "pia", "password": f"guess-{i}"}).status_code
        for i in range(5)
    ]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    r = c.post("/login", data={"name": "pia", "password": PASSWORDS["pia"][1]})
    assert r.status_code == 429 and "Try again in" in r.text  # even the right password waits
    failed = [
        e for e in audit.entries(ws.store, 50) if e["action"] == "login" and e["actor"] == "pia"
    ]
    assert [e["outcome"] for e in failed][:3] == ["denied", "denied", "denied"]
    assert sum(e["outcome"] == "failed" for e in failed) == 3
    time.sleep(1.1)  # the first wait is 1 s
    assert (
        c.post("/login", data={"name": "pia", "password": PASSWORDS["pia"][1]}).status_code == 302
    )


def test_the_session_key_is_kept_private(ws: Workspace, app: Any) -> None:
    key = ws.root / "studio-secret"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 64


def test_every_studio_callback_has_a_policy(app: Any) -> None:
    from studio.policy import RULES

    names = {
        v["callback"].__name__ for v in app.callback_map.values() if v.get("callback") is not None
    }
    assert names - set(RULES) == set()


def test_single_user_mode_on_loopback_needs_no_login(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    with studio_server(ws) as local:
        c = client(local)
        assert c.get("/").status_code == 200
        r = c.post(UPDATE, json=action_body(local, "upload", "local"))
        assert r.status_code == 200
        assert audit.entries(ws.store, 1)[0]["actor"].startswith("local:")
        # checks that do not depend on users stay on
        assert client(local, Origin="http://evil.example").post(UPDATE, json={}).status_code == 403
        assert client(local, Host="evil.example").get("/").status_code == 400


def _studio_cli(ws: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "studio",
            "--no-browser",
            "--workspace",
            str(ws),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SEER_DRIVER_MEMORY": "1g", "SEER_SPARK_MASTER": "local[1]"},
    )


def test_beyond_loopback_the_studio_needs_users_and_warns_about_tls(tmp_path: Path) -> None:
    from tests.studio_browser import free_port

    ws = tmp_path / "ws"
    proc = _studio_cli(ws, "--host", "0.0.0.0", "--port", str(free_port()))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "seer users add NAME --role admin" in err.decode() and "Traceback" not in err.decode()

    Users(Workspace(ws).store).add("ana", "admin", "admin-pass-1")
    port = free_port()
    proc = _studio_cli(ws, "--host", "0.0.0.0", "--port", str(port), "--allowed-host", "seer.bank")
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().decode().strip() == f"http://0.0.0.0:{port}/"
        err_text = proc.stderr.readline().decode() + proc.stderr.readline().decode()
        assert "plain HTTP" in err_text and "reverse proxy with https" in err_text
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/", headers={"Host": "seer.bank"}).status_code == 302
        assert httpx.get(base + "/").status_code == 302  # login required
        assert httpx.get(base + "/", headers={"Host": "evil.example"}).status_code == 400
    finally:
        proc.terminate()
        proc.wait(30)


def test_on_a_terminal_the_studio_says_where_it_listens_once(tmp_path: Path) -> None:
    """A person starting `seer studio` in a terminal reads one line: the address, the workspace
    and the scoring service's port; the bare URL for scripts is printed only into a pipe."""
    import pty
    import select

    from tests.studio_browser import free_port

    port = free_port()
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "seer"), "studio", "--no-browser"]
        + ["--workspace", str(tmp_path / "ws"), "--port", str(port), "--serve-port", "8611"],
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "SEER_DRIVER_MEMORY": "1g", "SEER_SPARK_MASTER": "local[1]"},
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"ready in" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                seen += os.read(controller, 4096)
        time.sleep(1.0)  # anything printed right after the ready line
        while select.select([controller], [], [], 0.2)[0]:
            seen += os.read(controller, 4096)
    finally:
        proc.terminate()
        proc.wait(30)
        os.close(controller)
    text = seen.decode()
    assert "ready in" in text, text
    assert text.count(f"http://127.0.0.1:{port}/") == 1, text
    assert "scoring service on port 8611" in text and str(tmp_path / "ws") in text
