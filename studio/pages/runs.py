"""The Runs page: past runs, newest first; Open loads a run's flow with its statuses."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ALL, Input, Output, html, no_update

from studio import state
from studio.context import Studio, clientside_callback, server_callback

HEADERS = ("status", "flow", "started", "duration", "metrics", "run", "")


def _aucs(studio: Studio, run_id: str) -> dict[str, float]:
    return {
        n["node_id"]: n["metrics"]["auc"]
        for n in studio.ws.store.node_runs(run_id)
        if isinstance(n.get("metrics"), dict) and "auc" in n["metrics"]
    }


def run_row(studio: Studio, r: dict[str, Any]) -> html.Tr:
    dur = (r["finished_at"] - r["started_at"]) if r.get("finished_at") else None
    metrics = ", ".join(f"{k}: AUC {v:.4f}" for k, v in _aucs(studio, r["run_id"]).items())
    opener = html.Button(
        "Open", id={"type": "open-run", "run": r["run_id"]}, n_clicks=0, className="btn small"
    )
    return html.Tr(
        [
            html.Td(html.Span(r["status"], className=f"pill s-{r['status']}")),
            html.Td(r["flow_name"]),
            html.Td(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started_at"]))),
            html.Td("" if dur is None else f"{dur:.1f} s"),
            html.Td(metrics),
            html.Td(r["run_id"], className="mono small"),
            html.Td(opener),
        ]
    )


def runs_page(studio: Studio, page: str | None, _done: Any) -> Any:
    if page != "runs":
        return no_update
    rows = [run_row(studio, r) for r in studio.ws.store.list_runs(limit=100)]
    head = html.Tr([html.Th(h) for h in HEADERS])
    return html.Div(
        [
            html.H2("Runs"),
            html.Div(
                "Open a run to load its flow on the canvas with that run's statuses and outputs.",
                className="muted",
            ),
            html.Table([html.Thead(head), html.Tbody(rows)], className="grid")
            if rows
            else html.Div("No runs yet.", className="muted"),
        ]
    )


def layout() -> html.Div:
    return html.Div(id="runs-page", className="page hidden")


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        runs_page,
        Output("runs-page", "children"),
        Input(state.PAGE, "data"),
        Input(state.RUN_DONE, "data"),
    )
    clientside_callback(
        app,
        "showFlowPage",
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
