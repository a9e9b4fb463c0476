"""The Problems tab: what validation found in the canvas document (and failed nodes), the
unsaved mark and the flow's name in the header. ``problem_items`` renders the list: one
small function, so new kinds of problem only add rows to it."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html

from engine.runproblems import latest_run_problems
from studio import state
from studio.context import Studio, clientside_callback, server_callback
from studio.model import analyze, doc_to_flow, saved_hash
from studio.runs import run_flow_path

EMPTY = "The canvas is empty: drag an operator from the left, or Open a sample flow."
CLEAN = "✓ No problems: the flow is ready to run."


def problem_items(
    problems: list[dict[str, Any]], empty_canvas: bool, kind: str = "problem"
) -> list[Any]:
    """The Problems tab's rows; a click on one selects its node."""
    if empty_canvas:
        return [html.Div(EMPTY, className="muted")]
    if not problems:
        return [html.Div(CLEAN, className="ok")]
    return [
        html.Div(
            [
                html.Span(p.get("node") or "flow", className="pnode"),
                html.Span(("⚠ " if p.get("severity") == "warning" else "") + p["message"]),
            ],
            className="problem warning" if p.get("severity") == "warning" else "problem",
            id={"type": kind, "node": p.get("node") or "", "i": i},
            n_clicks=0,
        )
        for i, p in enumerate(problems)
    ]


def validate(studio: Studio, doc: dict | None, meta: dict | None, _done: Any = None) -> tuple:
    """Validation's problems (errors, and warnings marked ⚠), then the nodes that failed in
    this flow's latest run with their messages (validation cannot know what only a run finds
    out); a failure drops out once its node is edited. Rechecked when a run ends."""
    meta = meta or state.empty_meta()
    doc = doc or {"nodes": [], "links": []}
    flow = doc_to_flow(doc, meta, run_flow_path(studio.ws, meta.get("file")))
    analysis = analyze(flow, studio.roots)
    found = analysis.problems + latest_run_problems(studio.ws.store, flow, studio.roots)
    problems = [p.to_json() for p in found]
    dirty = "" if meta.get("saved") == saved_hash(flow) else "● unsaved"
    if not doc.get("nodes") and not meta.get("file"):
        dirty = ""
    label = f"Problems ({len(problems)})" if problems else "Problems"
    return (
        problem_items(problems, not doc.get("nodes")),
        {"problems": problems, "columns": analysis.input_columns},
        dirty,
        meta.get("name") or "untitled",
        label,
    )


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        validate,
        Output("problems", "children"),
        Output(state.PROBLEMS, "data"),
        Output("dirty", "children"),
        Output("flow-name", "children"),
        Output("bt-problems", "children"),
        Input(state.DOC, "data"),
        Input(state.META, "data"),
        Input(state.RUN_DONE, "data"),  # a finished run adds the nodes that failed in it
    )
    clientside_callback(
        app,
        "selectProblem",
        Input({"type": "problem", "node": dash.ALL, "i": dash.ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
