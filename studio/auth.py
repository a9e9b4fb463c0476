"""The studio's front door, in front of Dash: Host check, cross-site protection, login, roles.

Every request passes `before_request` in this order:
1. the Host header must name this studio (the bound address, loopback names when bound to
   loopback, names given with ``--allowed-host``): DNS rebinding gets a 400;
2. a state-changing request (POST, PUT, PATCH, DELETE) must come from the studio's own pages
   (``Sec-Fetch-Site: same-origin``/``none``, or an Origin/Referer naming this host): 403;
3. when login is required (users exist, or the studio is bound to a non-loopback address), a
   request without a valid session gets the login page (pages) or 401 (everything else);
4. a Dash callback is mapped to the action it performs (studio/policy.py) and the user's role
   must allow it: 403. The callbacks doing the work check again with `require`.

Single-user mode (bound to loopback, no users) lets everything through as ``local:<os user>``.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import dash
from flask import Response, g, has_app_context, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import Forbidden

from engine import audit as audit_log
from engine.users import ROLES, User, Users, required_role
from engine.workspace import Workspace
from studio import policy

log = logging.getLogger("seer.studio.auth")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SECRET_FILE = "studio-secret"
SESSION_HOURS = 12
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# served to anyone who reaches the studio: the login page needs its CSS; nothing here is data
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")

ACTION_TEXT = {
    "view": "look at flows",
    "edit": "edit flows",
    "save": "save, rename or delete flows",
    "run": "run flows",
    "upload": "upload data",
    "publish": "publish models",
    "promote": "promote models",
    "canary": "set canaries",
    "rollback": "roll models back",
    "users": "manage users",
    "audit": "read the audit log",
}


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bound_names(host: str, extra: Iterable[str] = ()) -> set[str]:
    """The host names a browser may use to reach a studio bound to `host`."""
    names = {host.strip("[]").lower(), *(n.strip("[]").lower() for n in extra)}
    if is_loopback(host):
        names |= set(LOOPBACK_NAMES)
    if host in ("0.0.0.0", "::", ""):  # every interface: the machine's own names and addresses
        names |= set(LOOPBACK_NAMES)
        for name in (socket.gethostname(), socket.getfqdn()):
            names.add(name.lower())
            with contextlib.suppress(OSError):
                names |= {info[4][0].lower() for info in socket.getaddrinfo(name, None)}
    names.discard("0.0.0.0")
    names.discard("::")
    return names


def _host_of(value: str) -> str:
    """The host name of a Host header or URL netloc, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass
class Access:
    workspace: Workspace
    bind_host: str
    allowed: set[str]

    @property
    def local_only(self) -> bool:
        return is_loopback(self.bind_host)

    def login_required(self) -> bool:
        return not self.local_only or Users(self.workspace.store).count() > 0


class _Throttle:
    """Failed logins per (name, address) and per address: after 3 failures each further
    attempt waits 1, 2, 4 ... up to 60 s. Kept in memory (a restart forgets)."""

    FREE = 3
    MAX_WAIT = 60.0

    def __init__(self) -> None:
        self._fails: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _wait(self, key: tuple[str, str], now: float) -> float:
        count, last = self._fails.get(key, (0, 0.0))
        if count < self.FREE:
            return 0.0
        return max(0.0, min(2.0 ** (count - self.FREE), self.MAX_WAIT) - (now - last))

    def wait_seconds(self, name: str, ip: str) -> float:
        now = time.monotonic()
        with self._lock:
            # an address trying many names is slowed too (10 free failures)
            per_ip = self._fails.get(("*", ip), (0, 0.0))
            ip_wait = 0.0
            if per_ip[0] >= 10:
                ip_wait = max(0.0, min(2.0 ** (per_ip[0] - 10), self.MAX_WAIT) - (now - per_ip[1]))
            return max(self._wait((name.lower(), ip), now), ip_wait)

    def failed(self, name: str, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in ((name.lower(), ip), ("*", ip)):
                self._fails[key] = (self._fails.get(key, (0, 0.0))[0] + 1, now)
            if len(self._fails) > 10_000:  # bounded memory under a spray of names
                self._fails.clear()

    def succeeded(self, name: str, ip: str) -> None:
        with self._lock:
            self._fails.pop((name.lower(), ip), None)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session; the cookie is Secure when the page came over https
    (through a reverse proxy named with --trusted-proxy: waitress drops forwarded headers from
    anyone else)."""

    def get_cookie_secure(self, app: Any) -> bool:
        return request.is_secure


def load_secret(ws: Workspace) -> bytes:
    """The session signing key: made once per workspace, readable by its owner only."""
    path = ws.root / SECRET_FILE
    ws.root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


# -- who is asking ------------------------------------------------------------------------------
def current_user() -> User:
    """The user of this request (set by the front door); outside a request, nobody."""
    if not has_app_context():
        return User("anonymous", "")
    return g.get("seer_user") or User("anonymous", "")


def actor() -> str:
    user = current_user()
    return f"local:{audit_log.os_user()}" if g.get("seer_local") else user.name


def can(action: str) -> bool:
    return current_user().can(action)


def why_not(action: str) -> str:
    """The tooltip of a control the user's role cannot use ('' when it can)."""
    if can(action):
        return ""
    user = current_user()
    return (
        f"Your role ({user.role or 'none'}) cannot {ACTION_TEXT.get(action, action)}: "
        f"it needs {required_role(action)}."
    )


def audit(ws: Workspace, action: str, outcome: str = "ok", **fields: Any) -> None:
    audit_log.record(ws.store, actor(), action, outcome=outcome, **fields)


def require(ws: Workspace, action: str, what: str | None = None) -> None:
    """Raise 403 unless the user's role allows `action` (checked again where the work is done,
    whatever the front door decided)."""
    if can(action):
        return
    audit(ws, what or action, "denied", detail=f"role {current_user().role or 'none'}")
    raise Forbidden(why_not(action))


# -- the front door --------------------------------------------------------------------------------
def install(app: dash.Dash, ws: Workspace, bind_host: str, allowed_hosts: Iterable[str]) -> Access:
    """Put the front door before every request of the studio's server: host and origin
    checks, login by session cookie, and the access policy for every callback."""
    server = app.server
    access = Access(ws, bind_host, bound_names(bind_host, allowed_hosts))
    server.secret_key = load_secret(ws)
    server.session_interface = _SessionInterface()
    server.config.update(
        SESSION_COOKIE_NAME="seer_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    door = _FrontDoor(app, ws, access)
    server.before_request(door.check)
    server.register_error_handler(Forbidden, door.forbidden)
    server.after_request(_safe_headers)
    server.add_url_rule("/login", "login", door.login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", door.logout, methods=["POST"])
    return access


def _refuse(status: int, message: str) -> Response:
    if request.path == "/_dash-update-component" or status in (400, 429):
        resp = jsonify({"error": message})
    else:
        resp = Response(_page("Seer studio", f'<p class="error">{html.escape(message)}</p>'))
    resp.status_code = status
    return resp


def _safe_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


class _FrontDoor:
    """What every request passes: the host and origin checks, the login, the access policy."""

    def __init__(self, app: dash.Dash, ws: Workspace, access: Access):
        self.app, self.ws, self.access = app, ws, access
        self.throttle = _Throttle()
        self.users = Users(ws.store)

    def check(self) -> Response | None:
        """Flask's before_request: None lets the request through, a response refuses it."""
        host = _host_of(request.host or "")
        if host not in self.access.allowed:
            return _refuse(
                400,
                f"This studio does not answer to the host name {host!r}. If that is how your "
                f"users reach it, start it with --allowed-host {host}.",
            )
        if request.method in UNSAFE_METHODS and not _same_origin():
            return _refuse(
                403,
                "Refused a request from another site: state-changing requests must come from "
                "the studio's own pages.",
            )
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path in ("/login", "/logout"):
            return None
        if not self.access.login_required():
            g.seer_user = User(audit_log.os_user(), "admin")
            g.seer_local = True
            return None
        user = _session_user(self.users)
        if user is None:
            if request.method == "GET" and not path.startswith(("/_", "/studio/api/")):
                return redirect(f"/login?next={_quote(request.full_path.rstrip('?'))}")
            return _refuse(401, "Log in first (your session ended or you are not logged in).")
        g.seer_user = user
        action = self._action(path)
        if not user.can(action):
            audit(self.ws, action, "denied", detail=f"role {user.role}")
            return _refuse(403, why_not(action))
        return None

    def _action(self, path: str) -> str:
        """The policy's action for this request."""
        if path == "/_dash-update-component":
            body = request.get_json(silent=True)
            return policy.action_of(self.app, body if isinstance(body, dict) else {})
        if request.method in UNSAFE_METHODS:
            return "admin-only"  # a route no policy names: the strictest role
        return "view"

    def forbidden(self, exc: Forbidden) -> Response:  # raised by `require` inside a callback
        return _refuse(403, str(exc.description))

    def login(self) -> Any:
        nxt = request.values.get("next") or "/"
        if not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
            nxt = "/"
        if not self.access.login_required():
            return redirect("/")
        if request.method == "GET":
            return _login_page(nxt)
        name = (request.form.get("name") or "").strip()[:64]
        password = request.form.get("password") or ""
        ip = request.remote_addr or "?"
        store = self.ws.store
        wait = self.throttle.wait_seconds(name, ip)
        if wait > 0:
            audit_log.record(
                store, name or "?", "login", outcome="denied", detail=f"throttled, from {ip}"
            )
            return _login_page(
                nxt, f"Too many failed logins. Try again in {int(wait) + 1} s.", name, 429
            )
        user = self.users.verify(name, password)
        if user is None:
            self.throttle.failed(name, ip)
            audit_log.record(store, name or "?", "login", outcome="failed", detail=f"from {ip}")
            return _login_page(nxt, "Wrong user name or password.", name, 401)
        self.throttle.succeeded(name, ip)
        session.clear()
        session.permanent = True
        session["user"] = user.name
        session["tag"] = user.session_tag
        audit_log.record(store, user.name, "login", detail=f"from {ip}")
        return redirect(nxt)

    def logout(self) -> Any:
        name = session.get("user")
        session.clear()
        if name:
            audit_log.record(self.ws.store, name, "logout")
        return redirect("/login")


def _session_user(users: Users) -> User | None:
    name = session.get("user")
    if not name:
        return None
    user = users.get(name)
    if user is None or user.session_tag != session.get("tag") or user.role not in ROLES:
        session.clear()  # removed, or the password changed since: log in again
        return None
    return user


def _same_origin() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site in ("same-origin", "none"):
        return True
    if site in ("cross-site", "same-site"):
        return False
    own = (request.host or "").lower()
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() == own
    referer = request.headers.get("Referer")
    if referer:
        return urlsplit(referer).netloc.lower() == own
    return False


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


_STYLE = """
html, body { margin: 0; height: 100%; background: #f8fafc; color: #111827;
  font-family: Inter, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 13px; }
.bar { display: flex; align-items: center; gap: 6px; padding: 10px 16px; background: #0f172a;
  color: #e5e7eb; font-weight: 700; font-size: 16px; }
.bar .mark { color: #60a5fa; font-size: 18px; }
.card { max-width: 340px; margin: 12vh auto 0; background: #fff; border: 1px solid #e5e7eb;
  border-radius: 10px; padding: 24px 28px; box-shadow: 0 4px 18px rgba(15, 23, 42, .06); }
h1 { font-size: 18px; margin: 0 0 4px; }
.muted { color: #6b7280; margin: 0 0 16px; }
label { display: block; font-weight: 600; margin: 12px 0 4px; }
input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 8px 10px;
  border: 1px solid #d1d5db; border-radius: 6px; font-size: 14px; }
input:focus { outline: 2px solid #93c5fd; border-color: #2563eb; }
button { margin-top: 18px; width: 100%; padding: 9px; border: 0; border-radius: 6px;
  background: #2563eb; color: #fff; font-size: 14px; font-weight: 600; cursor: pointer; }
button:hover { background: #1d4ed8; }
.error { color: #dc2626; background: #fef2f2; border: 1px solid #fecaca; border-radius: 6px;
  padding: 8px 10px; margin: 0 0 8px; }
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>"
        '<div class="bar"><span class="mark">◉</span>Seer</div>'
        f'<div class="card">{body}</div></body></html>'
    )


def _login_page(nxt: str, error: str = "", name: str = "", status: int = 200) -> Response:
    err = (
        f'<p class="error" id="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    )
    body = (
        "<h1>Log in to Seer studio</h1>"
        '<p class="muted">Ask an admin for an account (<code>seer users add</code>).</p>'
        f"{err}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{html.escape(nxt)}">'
        '<label for="name">User name</label>'
        f'<input id="name" name="name" type="text" autocomplete="username" required autofocus '
        f'value="{html.escape(name)}">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" '
        "required>"
        '<button type="submit" id="login-submit">Log in</button></form>'
    )
    resp = Response(_page("Log in · Seer studio", body), status=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp
