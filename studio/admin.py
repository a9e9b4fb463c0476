"""The studio's user-facing side of login and roles: the header's user area and logout, controls
a role cannot use (disabled, the reason as tooltip), and the admin pages (Users, Audit)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html
from flask import g

from studio import auth
from studio.context import Studio, server_callback

# static controls and the action each performs (their tooltips come from the layout; Stop is
# active only while a run goes on: components/runpanel.py)
GUARDED = {
    "btn-save": "save",
    "btn-saveas": "save",
    "btn-rename": "save",
    "btn-duplicate": "save",
    "btn-delete": "save",
    "btn-run": "run",
    "btn-run-to": "run",
    "btn-rerun": "run",
}
# controls rendered by callbacks, by the `type` of their pattern id
DYNAMIC = {"publish": "publish", "browse": "edit"}


def header_area() -> html.Details:
    """The user's menu at the header's end: name and role; the admin pages and logout inside."""
    tabs = [
        html.Button(
            label,
            id=f"page-{key}",
            n_clicks=0,
            className="tab",
            title=title,
            style={"display": "none"},
        )
        for key, label, title in (
            ("users", "Users", "Studio users and roles (admins)"),
            ("audit", "Audit log", "Who did what, when (admins)"),
        )
    ]
    logout = html.Form(
        html.Button("Log out", type="submit", className="tab", id="btn-logout"),
        method="POST",
        action="/logout",
        id="logout-form",
        className="logout",
    )
    return html.Details(
        [html.Summary(id="who", className="who"), html.Div([*tabs, logout], className="menu")],
        id="session-area",
        className="session",
    )


def _find(component: Any, cid: Any) -> Any:
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            found = _find(child, cid)
            if found is not None:
                return found
    return None


def guard(component: Any) -> Any:
    """Disable, with the reason as tooltip, the controls in a rendered tree that the user's role
    cannot use (publish buttons, model actions, file pickers)."""
    cid = getattr(component, "id", None)
    if isinstance(cid, dict):
        kind = cid.get("type")
        action = cid.get("act") if kind == "model-act" else DYNAMIC.get(kind)
        if action and not auth.can(action):
            component.disabled = True
            component.title = auth.why_not(action)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            guard(child)
    return component


def session_header(studio: Studio, titles: dict[str, str], _path: Any) -> tuple:
    """Who is logged in; the controls their role cannot use disabled, with the reason."""
    user = auth.current_user()
    local = bool(g.get("seer_local"))
    if local:
        who: Any = "single-user ▾"
        tip = "No users are configured: anyone on this machine uses the studio as admin"
    else:
        who = [html.B(user.name, id="who-name"), f" · {user.role} ▾"]
        tip = f"Logged in as {user.name} ({user.role})"
    admin = {} if user.can("users") else {"display": "none"}
    upload = {} if user.can("upload") else {"display": "none"}
    disabled = [not user.can(a) for a in GUARDED.values()]
    tips = [auth.why_not(a) or titles[cid] for cid, a in GUARDED.items()]
    logout = {"display": "none"} if local else {}
    return (who, tip, logout, admin, admin, not user.can("upload"), upload, *disabled, *tips)


def register(app: dash.Dash, studio: Studio) -> None:
    titles = {cid: getattr(_find(app.layout, cid), "title", "") or "" for cid in GUARDED}

    def with_titles(studio: Studio, path: Any) -> tuple:
        return session_header(studio, titles, path)

    with_titles.__name__ = "session_header"
    server_callback(
        app,
        studio,
        with_titles,
        Output("who", "children"),
        Output("who", "title"),
        Output("logout-form", "style"),
        Output("page-users", "style"),
        Output("page-audit", "style"),
        Output("upload-data", "disabled"),
        Output("upload-data", "style"),
        *[Output(cid, "disabled") for cid in GUARDED],
        *[Output(cid, "title") for cid in GUARDED],
        Input("url", "pathname"),
    )
