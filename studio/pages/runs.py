"""The Runs page: past runs, newest first; Open loads a run's flow with its statuses."""

from __future__ import annotations

import json
import time
from typing import Any

import dash
from dash import ALL, Input, Output, html, no_update

from studio import state
from studio.context import Studio, clientside_callback, server_callback

HEADERS = ("status", "flow", "started", "duration", "metrics", "run", "")


def _labels(r: dict[str, Any]) -> dict[str, str]:
    """Node id -> the label the user gave it, from the flow the run ran."""
    flow = r.get("flow_json") or {}
    if isinstance(flow, str):
        try:
            flow = json.loads(flow)
        except ValueError:
            return {}
    return {n["id"]: (n.get("ui") or {}).get("label") or n["id"] for n in flow.get("nodes", [])}


def metrics_text(studio: Studio, r: dict[str, Any]) -> str:
    """Every AUC of a run: one per evaluation, or one per scored input when an evaluation
    compares several models, named by the nodes' labels."""
    labels = _labels(r)

    def name(key: str) -> str:
        return labels.get(key) or labels.get(key.split(".")[0]) or key

    parts = []
    for n in studio.ws.store.node_runs(r["run_id"]):
        m = n.get("metrics")
        if not isinstance(m, dict) or "auc" not in m:
            continue
        by_input = m.get("by_input") or {}
        if by_input:
            each = ", ".join(f"{v['auc']:.4f} ({name(k)})" for k, v in by_input.items())
        else:
            each = f"{m['auc']:.4f}"
        parts.append(f"{name(n['node_id'])}: AUC {each}")
    return "; ".join(parts)


def run_row(studio: Studio, r: dict[str, Any]) -> html.Tr:
    dur = (r["finished_at"] - r["started_at"]) if r.get("finished_at") else None
    metrics = metrics_text(studio, r)
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
