"""Helpers for tests that talk to a real studio over HTTP: the studio's WSGI app served by
waitress on a thread, and the bodies the browser posts to Dash's callback endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


@contextmanager
def studio_server(
    ws: Any, bind_host: str = "127.0.0.1", trusted_proxy: str | None = None, **options: Any
) -> Iterator[Any]:
    """The studio app (create_app, as `seer studio` builds it) on waitress, on a free port."""
    from waitress import create_server

    from studio.app import create_app
    from studio.server import proxy_options

    app = create_app(ws, bind_host=bind_host, **options)
    server = create_server(
        app.server, host="127.0.0.1", port=0, threads=4, **proxy_options(trusted_proxy)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    app.base_url = f"http://127.0.0.1:{server.effective_port}"
    try:
        yield app
    finally:
        server.close()
        thread.join(5)


def client(app: Any, **headers: str) -> httpx.Client:
    """A browser-like client: same-origin requests, cookies kept."""
    return httpx.Client(
        base_url=app.base_url,
        headers={"Origin": app.base_url, **headers},
        timeout=30,
        follow_redirects=False,
    )


def login(app: Any, name: str, password: str) -> httpx.Client:
    c = client(app)
    r = c.post("/login", data={"name": name, "password": password, "next": "/"})
    assert r.status_code == 302 and r.headers["location"] == "/", r.text
    assert "seer_session" in c.cookies
    return c


def callback_payload(
    app: Any,
    fn: str,
    trigger: tuple[Any, str, Any] | None = None,
    values: dict[tuple[str, str], Any] | None = None,
) -> dict[str, Any]:
    """The body the browser posts to /_dash-update-component to run the studio's callback
    named `fn`, as if `trigger` = (component id, property, new value) had changed; `values`
    gives the other inputs and states by (id, property). Built from `app.callback_map`."""
    from dash._utils import split_callback_id, stringify_id

    values = values or {}
    key = next(
        k for k, v in app.callback_map.items() if getattr(v.get("callback"), "__name__", None) == fn
    )
    entry = app.callback_map[key]

    def item(spec: dict[str, str]) -> Any:
        cid, prop = spec["id"], spec["property"]
        if cid.startswith("{"):  # a pattern: the concrete components matching it
            pattern = json.loads(cid)
            tid = trigger[0] if trigger else None
            if (
                isinstance(tid, dict)
                and trigger[1] == prop
                and all(isinstance(v, list) or tid.get(k) == v for k, v in pattern.items())
            ):
                return [{"id": tid, "property": prop, "value": trigger[2]}]
            return []
        value = values.get((cid, prop))
        if trigger and trigger[0] == cid and trigger[1] == prop:
            value = trigger[2]
        return {"id": cid, "property": prop, "value": value}

    def output(o: dict[str, str]) -> dict[str, str]:
        return {"id": o["id"], "property": o["property"].split("@")[0]}

    outs = split_callback_id(key)
    return {
        "output": key,
        "outputs": [output(o) for o in outs] if isinstance(outs, list) else output(outs),
        "inputs": [item(s) for s in entry["inputs"]],
        "state": [item(s) for s in entry["state"]],
        "changedPropIds": [f"{stringify_id(trigger[0])}.{trigger[1]}"] if trigger else [],
    }
