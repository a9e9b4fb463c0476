"""The Audit log page (admins): who did what, when."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, html, no_update

from engine import audit as audit_log
from studio import auth, state
from studio.context import Studio, server_callback

HEADERS = ("when", "who", "what", "outcome", "on", "detail")


def _target(e: dict[str, Any]) -> str:
    model = e["model"] and f"model {e['model']}" + (f" v{e['version']}" if e["version"] else "")
    parts = (e["flow"] and f"flow {e['flow']}", model, e["run_id"] and f"run {e['run_id']}")
    return " ".join(x for x in parts if x)


def entry_row(e: dict[str, Any]) -> html.Tr:
    return html.Tr(
        [
            html.Td(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["ts"]))),
            html.Td(e["actor"]),
            html.Td(e["action"]),
            html.Td(html.Span(e["outcome"], className=f"pill o-{e['outcome']}")),
            html.Td(_target(e)),
            html.Td(e["detail"] or "", className="small"),
        ]
    )


def audit_page(studio: Studio, page: str | None) -> Any:
    if page != "audit":
        return no_update
    auth.require(studio.ws, "audit")
    rows = [entry_row(e) for e in audit_log.entries(studio.ws.store, 500)]
    head = html.Tr([html.Th(h) for h in HEADERS])
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


def layout() -> list[Any]:
    return [html.Div(id="audit-page", className="page hidden")]


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app, studio, audit_page, Output("audit-page", "children"), Input(state.PAGE, "data")
    )
