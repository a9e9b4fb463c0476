"""The studio's user-facing side of login and roles: the header's user area and logout, controls
a role cannot use (disabled, the reason as tooltip), and the admin pages (Users, Audit)."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from flask import g

from engine import audit as audit_log
from engine.users import ROLES, UserError, Users
from engine.workspace import Workspace
from studio import auth

# static controls and the action each performs (their tooltips come from the layout)
GUARDED = {
    "btn-save": "save",
    "btn-saveas": "save",
    "btn-rename": "save",
    "btn-duplicate": "save",
    "btn-delete": "save",
    "btn-run": "run",
    "btn-run-to": "run",
    "btn-rerun": "run",
    "btn-stop": "run",
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


def pages() -> list[html.Div]:
    return [
        html.Div(id="users-page", className="page hidden"),
        html.Div(id="audit-page", className="page hidden"),
        dcc.Store(id="users-action"),
    ]


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


def register(app: dash.Dash, ws: Workspace) -> None:
    titles = {cid: getattr(_find(app.layout, cid), "title", "") or "" for cid in GUARDED}
    users = Users(ws.store)

    @app.callback(
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
    def session_header(_: Any) -> tuple:
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
        return (
            who,
            tip,
            {"display": "none"} if local else {},
            admin,
            admin,
            not user.can("upload"),
            upload,
            *disabled,
            *tips,
        )

    @app.callback(
        Output("users-page", "children"),
        Input("page", "data"),
        Input("users-action", "data"),
    )
    def users_page(page: str | None, _: Any) -> Any:
        if page != "users":
            return no_update
        auth.require(ws, "users")
        rows = [
            html.Tr(
                [
                    html.Td(u["name"]),
                    html.Td(u["role"]),
                    html.Td(time.strftime("%Y-%m-%d %H:%M", time.localtime(u["updated_at"]))),
                    html.Td(
                        html.Button(
                            "Remove",
                            id={"type": "user-remove", "name": u["name"]},
                            n_clicks=0,
                            className="btn small danger",
                        )
                    ),
                ]
            )
            for u in users.list()
        ]
        form = html.Div(
            [
                dcc.Input(id="user-name", placeholder="user name", className="field", type="text"),
                dcc.Dropdown(
                    id="user-role",
                    options=list(ROLES),
                    value="viewer",
                    clearable=False,
                    className="role-pick",
                ),
                dcc.Input(
                    id="user-password",
                    placeholder="password (8+ characters)",
                    type="password",
                    className="field",
                ),
                html.Button("Add user", id="user-add", n_clicks=0, className="btn primary"),
            ],
            className="user-form",
        )
        head = html.Tr([html.Th(h) for h in ("user", "role", "changed", "")])
        return html.Div(
            [
                html.H2("Users"),
                html.Div(
                    "Roles: viewer looks; editor edits, saves, runs and uploads; publisher also "
                    "publishes, promotes, sets canaries and rolls back; admin also manages users "
                    "and reads the audit log. The command line: seer users add|list|remove|passwd.",
                    className="muted",
                ),
                form,
                html.Table([html.Thead(head), html.Tbody(rows)], className="grid"),
            ]
        )

    @app.callback(
        Output("users-action", "data"),
        Output("toast-msg", "data", allow_duplicate=True),
        Input("user-add", "n_clicks"),
        Input({"type": "user-remove", "name": ALL}, "n_clicks"),
        State("user-name", "value"),
        State("user-role", "value"),
        State("user-password", "value"),
        prevent_initial_call=True,
    )
    def user_action(_a: Any, _r: Any, name: Any, role: Any, password: Any) -> tuple:
        trig = ctx.triggered_id
        if not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        auth.require(ws, "users")
        try:
            if isinstance(trig, dict):
                name = trig["name"]
                if name == auth.current_user().name:
                    raise UserError("You cannot remove yourself; another admin can.")
                users.remove(name)
                auth.audit(ws, "user.remove", detail=name)
                msg = f'Removed "{name}".'
            else:
                users.add(str(name or "").strip(), str(role or ""), str(password or ""))
                auth.audit(ws, "user.add", detail=f"{name} as {role}")
                msg = f'Added "{name}" ({role}).'
        except UserError as exc:
            auth.audit(
                ws,
                "user.remove" if isinstance(trig, dict) else "user.add",
                "failed",
                detail=str(exc),
            )
            return no_update, {"msg": str(exc), "kind": "error", "ts": time.time()}
        return time.time(), {"msg": msg, "kind": "info", "ts": time.time()}

    @app.callback(Output("audit-page", "children"), Input("page", "data"))
    def audit_page(page: str | None) -> Any:
        if page != "audit":
            return no_update
        auth.require(ws, "audit")
        rows = []
        for e in audit_log.entries(ws.store, 500):
            target = " ".join(
                x
                for x in (
                    e["flow"] and f"flow {e['flow']}",
                    e["model"]
                    and f"model {e['model']}" + (f" v{e['version']}" if e["version"] else ""),
                    e["run_id"] and f"run {e['run_id']}",
                )
                if x
            )
            rows.append(
                html.Tr(
                    [
                        html.Td(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["ts"]))),
                        html.Td(e["actor"]),
                        html.Td(e["action"]),
                        html.Td(html.Span(e["outcome"], className=f"pill o-{e['outcome']}")),
                        html.Td(target),
                        html.Td(e["detail"] or "", className="small"),
                    ]
                )
            )
        head = html.Tr([html.Th(h) for h in ("when", "who", "what", "outcome", "on", "detail")])
        return html.Div(
            [
                html.H2("Audit log"),
                html.Div(
                    "The newest 500 entries, from the studio and the command line "
                    "(seer audit --json for all).",
                    className="muted",
                ),
                html.Table([html.Thead(head), html.Tbody(rows)], className="grid")
                if rows
                else html.Div("Nothing recorded yet.", className="muted"),
            ]
        )
