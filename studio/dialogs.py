"""No lost work: New, Open and Import ask first when the canvas has unsaved changes (save,
discard or cancel). (A loaded flow starts with nothing selected: assets/10_seer_canvas.js.)

The toolbar's New and Open buttons and the Import upload do not act themselves: the guard
below lets them through (the ``go-new``, ``go-open`` and ``go-import`` stores the flow-file
callbacks listen to) when there is nothing to lose, or after the user chose in the dialog.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from engine.flow import FlowError, parse_flow
from engine.workspace import Workspace
from studio import auth, conflicts
from studio.context import Studio, Trigger, server_callback
from studio.model import FlowFolder, FlowStoreError, check_flow_name, doc_to_flow, saved_hash
from studio.runs import run_flow_path

ACTIONS = {"btn-new": "new", "btn-open": "open", "upload-flow": "import"}
WHAT = {"new": "start a new flow", "open": "open another flow", "import": "import a flow"}


def is_dirty(ws: Workspace, doc: dict[str, Any] | None, meta: dict[str, Any] | None) -> bool:
    """True when the canvas holds changes that are not in its file (an empty canvas never
    saved holds nothing to lose)."""
    doc = doc or {"nodes": [], "links": []}
    meta = meta or {}
    if not (doc.get("nodes") or doc.get("notes")) and not meta.get("file"):
        return False
    flow = doc_to_flow(doc, meta, run_flow_path(ws, meta.get("file")))
    return meta.get("saved") != saved_hash(flow)


def layout() -> list[Any]:
    """The unsaved-changes dialog and the stores that let New, Open and Import through."""
    box = html.Div(
        [
            html.Div("Unsaved changes", className="modal-title"),
            html.Div(id="unsaved-text"),
            html.Div(
                [
                    html.Label("Save it as (letters, digits, spaces, . _ -)", className="muted"),
                    dcc.Input(id="unsaved-name", type="text", className="field", value=""),
                ],
                id="unsaved-name-row",
                style={"display": "none"},
            ),
            html.Div(id="unsaved-error", className="error"),
            html.Div(
                [
                    html.Button("Cancel", id="unsaved-cancel", n_clicks=0, className="btn"),
                    html.Button(
                        "Discard changes", id="unsaved-discard", n_clicks=0, className="btn"
                    ),
                    html.Button("Save", id="unsaved-save", n_clicks=0, className="btn primary"),
                ],
                className="modal-buttons",
            ),
        ],
        className="modal-box",
        role="dialog",
        **{"aria-modal": "true", "aria-label": "Unsaved changes"},
    )
    return [
        html.Div(box, id="unsaved-dialog", className="modal hidden"),
        dcc.Store(id="unsaved-pending", data=None),
        dcc.Store(id="go-new", data=None),
        dcc.Store(id="go-open", data=None),
        dcc.Store(id="go-import", data=None),
    ]


def unsaved_guard(studio: Studio, trig: Trigger, *args: Any) -> tuple:
    """The callback: New, Open, Import or a choice in the dialog (see ``guard``)."""
    doc, meta, pending, name = args[-4:]
    return guard(studio.ws, studio.flows, trig.id, doc, meta, pending, name, args[2])


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        unsaved_guard,
        Output("go-new", "data"),
        Output("go-open", "data"),
        Output("go-import", "data"),
        Output("unsaved-dialog", "className"),
        Output("unsaved-text", "children"),
        Output("unsaved-name-row", "style"),
        Output("unsaved-error", "children"),
        Output("unsaved-pending", "data"),
        Input("btn-new", "n_clicks"),
        Input("btn-open", "n_clicks"),
        Input("upload-flow", "contents"),
        Input("unsaved-save", "n_clicks"),
        Input("unsaved-discard", "n_clicks"),
        Input("unsaved-cancel", "n_clicks"),
        State("doc", "data"),
        State("meta", "data"),
        State("unsaved-pending", "data"),
        State("unsaved-name", "value"),
        trigger=True,
        prevent_initial_call=True,
    )


def guard(
    ws: Workspace,
    flows: FlowFolder,
    trig: Any,
    doc: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    pending: dict[str, Any] | None,
    name: str | None,
    upload: str | None,
) -> tuple:
    """The unsaved-changes guard as a plain function (see ``register``)."""
    hidden = "modal hidden"
    keep = (no_update,) * 8

    def go(action: str) -> tuple:
        now = time.time()
        return (
            now if action == "new" else no_update,
            now if action == "open" else no_update,
            now if action == "import" else no_update,
            hidden,
            no_update,
            no_update,
            "",
            None,
        )

    meta = meta or {}
    if trig in ACTIONS:
        action = ACTIONS[trig]
        if action == "import" and not upload:
            return keep
        if action == "import" and not _readable(upload):  # refused with its reason, nothing lost
            return go(action)
        if not is_dirty(ws, doc, meta):
            return go(action)
        label = meta.get("file") or meta.get("name") or "untitled"
        text = html.Div(
            [
                html.Div([html.B(f'"{label}"'), " has changes that are not saved."]),
                html.Div(f"Save them before you {WHAT[action]}?", className="muted"),
            ]
        )
        row = {} if not meta.get("file") else {"display": "none"}
        return (no_update,) * 3 + ("modal", text, row, "", {"action": action})
    action = (pending or {}).get("action")
    if trig == "unsaved-cancel" or action not in WHAT:
        return (no_update,) * 3 + (hidden, no_update, no_update, "", None)
    if trig == "unsaved-discard":
        return go(action)
    if trig == "unsaved-save":
        auth.require(ws, "save", "flow.save")
        problem = _save(ws, flows, doc, meta, name)
        if problem:
            return (no_update,) * 6 + (problem, no_update)
        return go(action)
    return keep


def _readable(upload: str) -> bool:
    """Whether an uploaded flow file can be read (else the import reports why and the canvas
    stays as it is, so there is nothing to ask)."""
    try:
        parse_flow(base64.b64decode(upload.split(",", 1)[1]).decode("utf-8", errors="replace"))
    except (FlowError, ValueError, IndexError):
        return False
    return True


def _save(
    ws: Workspace,
    flows: FlowFolder,
    doc: dict[str, Any] | None,
    meta: dict[str, Any],
    name: str | None,
) -> str | None:
    """Save the canvas before it is replaced; the problem as a sentence, or None."""
    file = meta.get("file")
    try:
        if file:
            if conflicts.changed_on_disk(flows, meta):
                return (
                    f'"{file}" was changed elsewhere since you opened it: Cancel, then Save to '
                    "choose between the two versions."
                )
            target = file
        else:
            target = check_flow_name(name or "")
            if flows.path(target).exists():
                return f'A flow named "{target}" exists; choose another name.'
        m = {**meta, "name": target if not file else meta.get("name")}
        flow = doc_to_flow(doc or {"nodes": [], "links": []}, m, run_flow_path(ws, target))
        flows.save(flow, target)
    except (FlowStoreError, FlowError, OSError) as exc:
        auth.audit(ws, "flow.save", "failed", flow=file or name, detail=str(exc))
        return str(exc) if not isinstance(exc, FlowError) else exc.problems[0].message
    auth.audit(ws, "flow.save", flow=target)
    return None
