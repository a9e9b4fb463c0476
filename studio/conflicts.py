"""Saving a flow file that changed on disk since this tab opened it (another tab, another user).

When a tab loads or saves a flow file, its `meta` store keeps the file's fingerprint (`disk`).
Save compares it with the file now on disk; if they differ the save does not happen and a
dialog offers: Reload (take the version on disk), Overwrite (save this tab's version anyway), or
Save as (this tab's version under another name, through the usual Save as)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from studio import auth
from studio.context import Studio, Trigger, server_callback
from studio.model import FlowFolder, doc_to_flow, flow_meta, flow_to_elements, saved_hash
from studio.runs import run_flow_path


def fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    except OSError:
        return None


def changed_on_disk(flows: FlowFolder, meta: dict[str, Any]) -> bool:
    """Whether the tab's file was changed by someone else since the tab loaded or saved it
    (a tab from before fingerprints were kept, or a deleted file, is not a conflict)."""
    if not meta.get("file") or not meta.get("disk"):
        return False
    now = fingerprint(flows.path(meta["file"]))
    return now is not None and now != meta["disk"]


def announce(name: str) -> None:
    """Open the conflict dialog (called from the save callback instead of saving)."""
    dash.set_props("conflict", {"data": {"name": name, "ts": time.time()}})


def conflict_dialog(studio: Studio, conflict: dict | None) -> tuple:
    """The shared modal, asking what to do with a save that would overwrite another's."""
    if not conflict:
        return (no_update,) * 7
    name = conflict["name"]
    choices = html.Div(
        [
            html.Button(
                "Reload",
                id={"type": "conflict-choice", "choice": "reload"},
                n_clicks=0,
                className="btn",
                title="Discard your changes and open the version on disk",
            ),
            html.Button(
                "Overwrite",
                id={"type": "conflict-choice", "choice": "overwrite"},
                n_clicks=0,
                className="btn danger",
                title="Replace the version on disk with yours",
            ),
        ],
        className="modal-buttons",
    )
    body = html.Div(
        [
            html.Div(
                f'"{name}" was changed on disk since you opened it (in another tab, or by '
                "another user). Nothing was saved.",
            ),
            choices,
            html.Div("…or save your version as:", className="muted"),
        ]
    )
    title = "This flow changed since you opened it"
    return "modal", title, body, f"{name} - mine", {}, {"action": "saveas"}, ""


def conflict_choice(
    studio: Studio, trig: Trigger, _clicks: Any, doc: dict | None, meta: dict | None
) -> tuple:
    """Reload the version on disk, or overwrite it with the canvas."""
    if not trig.pattern:
        return (no_update,) * 5
    ws, flows = studio.ws, studio.flows
    meta = dict(meta or {})
    name = meta.get("file")
    if not name:
        return (no_update,) * 3 + ("modal hidden", no_update)
    if trig.id["choice"] == "reload":
        flow = flows.load(name)
        m = {
            **meta,
            **flow_meta(flow),
            "saved": saved_hash(flow),
            "disk": fingerprint(flows.path(name)),
        }
        toast = {"msg": f'Reloaded "{name}" from disk.', "kind": "info", "ts": time.time()}
        return flow_to_elements(flow), m, time.time(), "modal hidden", toast
    auth.require(ws, "save", "flow.save")
    flow = doc_to_flow(doc or {"nodes": [], "links": []}, meta, run_flow_path(ws, name))
    path = flows.save(flow, name)
    auth.audit(ws, "flow.save", flow=name, detail="overwrote a version changed on disk")
    m = {**meta, "saved": saved_hash(flow), "disk": fingerprint(path)}
    toast = {"msg": f'Saved "{name}" over the other version.', "kind": "info", "ts": time.time()}
    return no_update, m, no_update, "modal hidden", toast


def layout() -> list[Any]:
    return [dcc.Store(id="conflict")]


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        conflict_dialog,
        Output("modal", "className", allow_duplicate=True),
        Output("modal-title", "children", allow_duplicate=True),
        Output("modal-body", "children", allow_duplicate=True),
        Output("modal-input", "value", allow_duplicate=True),
        Output("modal-input", "style", allow_duplicate=True),
        Output("modal-state", "data", allow_duplicate=True),
        Output("modal-error", "children", allow_duplicate=True),
        Input("conflict", "data"),
        prevent_initial_call=True,
    )
    server_callback(
        app,
        studio,
        conflict_choice,
        Output("canvas", "elements", allow_duplicate=True),
        Output("meta", "data", allow_duplicate=True),
        Output("loaded", "data", allow_duplicate=True),
        Output("modal", "className", allow_duplicate=True),
        Output("toast-msg", "data", allow_duplicate=True),
        Input({"type": "conflict-choice", "choice": ALL}, "n_clicks"),
        State("doc", "data"),
        State("meta", "data"),
        trigger=True,
        prevent_initial_call=True,
    )
