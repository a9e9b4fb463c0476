"""Running the flow: Run all, Run to here, Rerun node and Stop; the run log and the status
line of the bottom panel, polled while a run goes on (and after a reload: the run id is kept
per tab)."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, html, no_update

from engine.flow import FlowError
from studio import auth, identity, state
from studio.context import Studio, Trigger, server_callback
from studio.model import doc_to_flow
from studio.runs import run_flow_path

NO_RUN = "No run yet."


def _say(msg: str, kind: str = "info") -> tuple:
    return no_update, no_update, state.toast(msg, kind)


def _stop(studio: Studio, run_id: str | None, meta: dict | None) -> tuple:
    if run_id and studio.runs.cancel(run_id):
        auth.audit(studio.ws, "run.cancel", flow=(meta or {}).get("name"), run_id=run_id)
        return no_update, False, state.toast("Stopping the run…")
    return _say("No run is in progress.")


def _start(studio: Studio, trig: Any, doc: dict | None, meta: dict | None, sel: Any) -> tuple:
    meta = meta or state.empty_meta()
    node = sel.get("id") if sel and sel.get("kind") == "node" else None
    partial = trig in ("btn-run-to", "btn-rerun")
    if partial and not node:
        return _say("Select a node first.", "error")
    flow = doc_to_flow(
        doc or {"nodes": [], "links": []}, meta, run_flow_path(studio.ws, meta.get("file"))
    )
    if not flow.nodes:
        return _say("The canvas is empty: add operators first.", "error")
    try:
        rid = studio.runs.start(
            flow,
            to_node=node if partial else None,
            force={node} if trig == "btn-rerun" and node else None,
        )
    except FlowError as exc:
        n = len(exc.problems)
        auth.audit(studio.ws, "run.start", "failed", flow=flow.name, detail=f"{n} problem(s)")
        return _say(
            f"The flow has {n} problem{'s' if n != 1 else ''}; see the Problems panel.", "error"
        )
    auth.audit(studio.ws, "run.start", flow=flow.name, run_id=rid)
    return rid, False, no_update


def run_control(
    studio: Studio,
    trig: Trigger,
    *args: Any,
) -> tuple:
    """Outputs: the run shown, whether polling is off, a toast."""
    doc, meta, sel, run_id = args[-4:]
    if isinstance(trig.id, dict):  # a past run opened from the Runs page
        return (trig.id["run"], False, no_update) if trig.value else (no_update,) * 3
    action = "run.cancel" if trig.id == "btn-stop" else "run.start"
    auth.require(studio.ws, "run", action)
    if trig.id == "btn-stop":
        return _stop(studio, run_id, meta)
    if run_id and studio.runs.active(run_id):
        return _say("A run is in progress; Stop it first.", "error")
    return _start(studio, trig.id, doc, meta, sel)


def log_lines(st: dict[str, Any]) -> list[Any]:
    lines = [
        html.Div(
            [
                html.Span(time.strftime("%H:%M:%S", time.localtime(lg["ts"])), className="ts"),
                html.Span(lg["node"] or "run", className="pnode"),
                lg["message"],
            ],
            className=f"logline l-{lg['level']}",
        )
        for lg in st["logs"][-400:]
    ]
    for nid, n in st["nodes"].items():
        if n["status"] == "failed" and n.get("error"):
            lines.append(
                html.Div(
                    [html.Span(nid, className="pnode"), n["error"]], className="logline l-error"
                )
            )
    return lines


def status_line(st: dict[str, Any], run_id: str) -> html.Span:
    elapsed = (st.get("finished_at") or time.time()) - st["started_at"]
    counts: dict[str, int] = {}
    for n in st["nodes"].values():
        counts[n["status"]] = counts.get(n["status"], 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return html.Span(
        [
            html.Span(f"{st['status']}", className=f"pill s-{st['status']}"),
            f" {elapsed:.1f} s · {summary} · run {run_id}",
        ]
    )


def poll(studio: Studio, _n: Any, run_id: str | None, meta: dict | None, done: Any) -> tuple:
    """Outputs: the run's state, whether polling stops, the log, the status line, a token set
    once when the run ends (the output panel and pages refresh on it), Stop's state."""
    run_id = identity.shown_run(studio.ws, run_id, (meta or {}).get("id"))  # never another flow's
    st = studio.runs.status(run_id) if run_id else None
    if st is None:
        return None, True, html.Div(NO_RUN, className="muted"), "", no_update, *stop_button(False)
    final = st["status"] != "running"
    done_token = f"{run_id}:{st['status']}" if final else None
    return (
        st,
        final,
        log_lines(st) or html.Div("Starting…", className="muted"),
        status_line(st, run_id),
        done_token if done_token != done else no_update,
        *stop_button(not final),
    )


def stop_button(running: bool) -> tuple[bool, str]:
    """Stop's disabled flag and tooltip: active only while a run goes on (and the role may)."""
    if not running:
        return True, "No run is in progress"
    why = auth.why_not("run")
    return bool(why), why or "Cancel the run"


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        run_control,
        Output(state.RUN_ID, "data"),
        Output(state.POLL, "disabled"),
        Output(state.TOAST, "data", allow_duplicate=True),
        Input("btn-run", "n_clicks"),
        Input("btn-run-to", "n_clicks"),
        Input("btn-rerun", "n_clicks"),
        Input("btn-stop", "n_clicks"),
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        State(state.SELECTION, "data"),
        State(state.RUN_ID, "data"),
        trigger=True,
        prevent_initial_call=True,
    )
    server_callback(
        app,
        studio,
        poll,
        Output(state.RUN_STATE, "data"),
        Output(state.POLL, "disabled", allow_duplicate=True),
        Output("run-log", "children"),
        Output("run-status", "children"),
        Output(state.RUN_DONE, "data"),
        Output("btn-stop", "disabled"),
        Output("btn-stop", "title"),
        Input(state.POLL, "n_intervals"),
        Input(state.RUN_ID, "data"),
        Input(state.META, "data"),
        State(state.RUN_DONE, "data"),
        prevent_initial_call="initial_duplicate",
    )
