"""The Users page (admins): the studio's users and roles, add and remove."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from engine.users import ROLES, UserError, Users
from studio import auth, state
from studio.context import Studio, Trigger, server_callback

ROLES_HELP = (
    "Roles: viewer looks; editor edits, saves, runs and uploads; publisher also "
    "publishes, promotes, sets canaries and rolls back; admin also manages users "
    "and reads the audit log. The command line: seer users add|list|remove|passwd."
)


def _user_row(u: dict[str, Any]) -> html.Tr:
    remove = html.Button(
        "Remove",
        id={"type": "user-remove", "name": u["name"]},
        n_clicks=0,
        className="btn small danger",
    )
    changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(u["updated_at"]))
    return html.Tr([html.Td(u["name"]), html.Td(u["role"]), html.Td(changed), html.Td(remove)])


def _form() -> html.Div:
    return html.Div(
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


def users_page(studio: Studio, page: str | None, _acted: Any) -> Any:
    if page != "users":
        return no_update
    auth.require(studio.ws, "users")
    rows = [_user_row(u) for u in Users(studio.ws.store).list()]
    head = html.Tr([html.Th(h) for h in ("user", "role", "changed", "")])
    return html.Div(
        [
            html.H2("Users"),
            html.Div(ROLES_HELP, className="muted"),
            _form(),
            html.Table([html.Thead(head), html.Tbody(rows)], className="grid"),
        ]
    )


def _remove(studio: Studio, name: str) -> str:
    if name == auth.current_user().name:
        raise UserError("You cannot remove yourself; another admin can.")
    Users(studio.ws.store).remove(name)
    auth.audit(studio.ws, "user.remove", detail=name)
    return f'Removed "{name}".'


def _add(studio: Studio, name: Any, role: Any, password: Any) -> str:
    Users(studio.ws.store).add(str(name or "").strip(), str(role or ""), str(password or ""))
    auth.audit(studio.ws, "user.add", detail=f"{name} as {role}")
    return f'Added "{name}" ({role}).'


def user_action(
    studio: Studio, trig: Trigger, _a: Any, _r: Any, name: Any, role: Any, password: Any
) -> tuple:
    """Outputs: a refresh of the page, a toast."""
    if not trig.value:
        return no_update, no_update
    auth.require(studio.ws, "users")
    removing = isinstance(trig.id, dict)
    try:
        msg = _remove(studio, trig.id["name"]) if removing else _add(studio, name, role, password)
    except UserError as exc:
        action = "user.remove" if removing else "user.add"
        auth.audit(studio.ws, action, "failed", detail=str(exc))
        return no_update, state.toast(str(exc), "error")
    return time.time(), state.toast(msg)


def layout() -> list[Any]:
    return [html.Div(id="users-page", className="page hidden"), dcc.Store(id="users-action")]


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        users_page,
        Output("users-page", "children"),
        Input(state.PAGE, "data"),
        Input("users-action", "data"),
    )
    server_callback(
        app,
        studio,
        user_action,
        Output("users-action", "data"),
        Output(state.TOAST, "data", allow_duplicate=True),
        Input("user-add", "n_clicks"),
        Input({"type": "user-remove", "name": ALL}, "n_clicks"),
        State("user-name", "value"),
        State("user-role", "value"),
        State("user-password", "value"),
        trigger=True,
        prevent_initial_call=True,
    )
