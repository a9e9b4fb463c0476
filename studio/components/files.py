"""Flow files: what New, Open, Save, Save as, Rename, Duplicate, Delete, Import and Export do,
and bringing back the tab's canvas on a page load. The unsaved-changes guard (dialogs.py)
lets New, Open and Import through; the modal (modal.py) asks names first.

``files`` has seven outputs, in this order: canvas elements, META, LOADED, the modal's
class, the modal's error, a download, a toast (``Outcome`` builds them)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import dash
from dash import ALL, Input, Output, State, no_update

from engine.flow import FlowError, parse_flow
from studio import auth, conflicts, identity, state
from studio.context import Studio, Trigger, server_callback
from studio.model import (
    FlowStoreError,
    check_flow_name,
    doc_to_flow,
    flow_meta,
    flow_text,
    flow_to_elements,
    load_sample,
    parse_upload,
    saved_hash,
)
from studio.runs import run_flow_path

NOTHING = (no_update,) * 7


@dataclass
class Files:
    """One request's view of the flow files: the studio, the tab's canvas and meta."""

    studio: Studio
    doc: dict[str, Any] | None
    meta: dict[str, Any]

    def current(self, name: str | None = None, file: str | None = None) -> Any:
        """The flow on the canvas (named `name` when given)."""
        m = identity.with_id(self.meta)
        if name:
            m["name"] = name
        path = run_flow_path(self.studio.ws, file or m.get("file"))
        return doc_to_flow(self.doc or {"nodes": [], "links": []}, m, path)

    def loaded(self, flow: Any, file: str | None, saved: bool, fresh: bool = False) -> tuple:
        """Put `flow` on the canvas (fresh: a copy, with a new identity)."""
        flow.id = identity.with_id({"id": flow.id}, fresh)["id"]
        m = {
            **flow_meta(flow),
            "file": file,
            "saved": saved_hash(flow) if saved else None,
            "disk": conflicts.fingerprint(self.studio.flows.path(file)) if file else None,
        }
        return flow_to_elements(flow), m, time.time(), "modal hidden", "", no_update, no_update

    def saved(self, flow: Any, name: str, msg: str, hide_modal: bool) -> tuple:
        m = {
            **self.meta,
            "id": flow.id,
            "name": name,
            "file": name,
            "saved": saved_hash(flow),
            "disk": conflicts.fingerprint(self.studio.flows.path(name)),
        }
        modal = "modal hidden" if hide_modal else no_update
        return no_update, m, no_update, modal, "", no_update, state.toast(msg)


def toast_only(msg: str, kind: str = "info") -> tuple:
    return NOTHING[:6] + (state.toast(msg, kind),)


def modal_error(msg: str) -> tuple:
    return NOTHING[:4] + (msg,) + NOTHING[5:]


def page_load(f: Files) -> tuple:
    """Bring back what this browser tab had on its canvas."""
    doc, meta, flows = f.doc, f.meta, f.studio.flows
    if doc and (doc.get("nodes") or doc.get("notes")):  # edits, saved or not
        elements = flow_to_elements(f.current())
        return elements, identity.with_id(meta), time.time(), no_update, "", no_update, no_update
    if meta.get("file") and meta.get("saved") and flows.path(meta["file"]).exists():
        return f.loaded(flows.load(meta["file"]), meta["file"], True)
    if not meta.get("id"):  # a new tab's empty canvas is a new flow
        return (no_update, identity.with_id(meta)) + NOTHING[2:]
    return NOTHING


def save(f: Files) -> tuple:
    ws, flows = f.studio.ws, f.studio.flows
    auth.require(ws, "save", "flow.save")
    if not f.meta.get("file"):  # the modal asks for the name first
        return NOTHING
    name = f.meta["file"]
    if conflicts.changed_on_disk(flows, f.meta):  # another tab or user saved it
        conflicts.announce(name)
        auth.audit(ws, "flow.save", "failed", flow=name, detail="changed on disk")
        return NOTHING
    flow = f.current(file=name)
    flows.save(flow, name)
    auth.audit(ws, "flow.save", flow=name)
    return f.saved(flow, name, f'Saved "{name}".', hide_modal=False)


def duplicate(f: Files) -> tuple:
    ws, flows = f.studio.ws, f.studio.flows
    auth.require(ws, "save", "flow.duplicate")
    base = f.meta.get("file") or f.meta.get("name") or "untitled"
    name = flows.unused_name(f"{base} copy")
    flow = f.current(name, name)
    flow.id = identity.new_flow_id()  # a copy is another flow
    flows.save(flow, name)
    auth.audit(ws, "flow.duplicate", flow=name, detail=f"copy of {base}")
    return f.loaded(flow, name, True)


def export(f: Files) -> tuple:
    fname = f"{f.meta.get('file') or f.meta.get('name') or 'flow'}.flow.json"
    return NOTHING[:5] + (dict(content=flow_text(f.current()), filename=fname), no_update)


def import_upload(f: Files, upload: str | None, filename: str | None) -> tuple:
    if not upload:
        return NOTHING
    raw = base64.b64decode(upload.split(",", 1)[1]).decode("utf-8", errors="replace")
    try:
        flow = parse_upload(raw, filename or "")
    except FlowError as exc:
        msg = "; ".join(p.message for p in exc.problems[:3])
        return toast_only(f"Cannot import {filename}: {msg}", "error")
    return f.loaded(flow, None, False, fresh=True)  # an import is a copy


def open_item(f: Files, item: dict[str, Any]) -> tuple:
    """A saved flow, a sample or a past run's flow, picked in a list."""
    kind = item.get("type")
    if kind == "open-flow":
        return f.loaded(f.studio.flows.load(item["name"]), item["name"], True)
    if kind == "open-sample":
        flow = load_sample(item["name"], f.studio.ws.flows_dir / "data")
        return f.loaded(flow, None, False, fresh=True)
    if kind == "open-run":
        run = f.studio.ws.store.get_run(item["run"])
        return f.loaded(parse_flow(run["flow_json"]), None, False) if run else NOTHING
    return NOTHING


def save_as(f: Files, value: str | None) -> tuple:
    flows = f.studio.flows
    name = check_flow_name(value or "")
    if flows.path(name).exists() and name != f.meta.get("file"):
        return modal_error(f'A flow named "{name}" exists; choose another name.')
    flow = f.current(name, name)
    if f.meta.get("file"):  # a copy under another name (a first save is not)
        flow.id = identity.new_flow_id()
    flows.save(flow, name)
    auth.audit(f.studio.ws, "flow.saveas", flow=name, detail=f"from {f.meta.get('file')}")
    return f.saved(flow, name, f'Saved as "{name}".', hide_modal=True)


def rename(f: Files, value: str | None) -> tuple:
    name = check_flow_name(value or "")
    f.studio.flows.rename(f.meta["file"], name)
    flow = f.current(name, name)
    f.studio.flows.save(flow, name)
    auth.audit(f.studio.ws, "flow.rename", flow=name, detail=f"from {f.meta['file']}")
    return f.saved(flow, name, f'Renamed to "{name}".', hide_modal=True)


def delete(f: Files) -> tuple:
    f.studio.flows.delete(f.meta["file"])
    auth.audit(f.studio.ws, "flow.delete", flow=f.meta["file"])
    m = {**f.meta, "file": None, "saved": None}
    toast = state.toast("Flow file deleted; the canvas keeps it until you leave.")
    return no_update, m, no_update, "modal hidden", "", no_update, toast


def modal_ok(f: Files, mstate: dict | None, value: str | None) -> tuple:
    action = (mstate or {}).get("action")
    if action in ("saveas", "rename", "delete"):
        auth.require(f.studio.ws, "save", f"flow.{action}")
    if action == "saveas":
        return save_as(f, value)
    if action == "rename":
        return rename(f, value)
    if action == "delete":
        return delete(f)
    if action == "publish":  # the publish callback answers (and keeps errors shown)
        return NOTHING
    return NOTHING[:3] + ("modal hidden",) + NOTHING[4:]


AUDITED = {"btn-save": "flow.save", "btn-duplicate": "flow.duplicate"}


def _dispatch(f: Files, trig: Any, upload: Any, filename: Any, mstate: Any, value: Any) -> tuple:
    if trig == "url":
        return page_load(f)
    if trig == state.GO_NEW:  # (dialogs.py asked first when there were unsaved changes)
        return [], identity.with_id(state.empty_meta()), time.time(), no_update, "", *NOTHING[5:]
    if trig == "btn-save":
        return save(f)
    if trig == "btn-duplicate":
        return duplicate(f)
    if trig == "btn-export":
        return export(f)
    if trig == state.GO_IMPORT:
        return import_upload(f, upload, filename)
    if isinstance(trig, dict):
        return open_item(f, trig)
    if trig == "modal-ok":
        return modal_ok(f, mstate, value)
    return NOTHING


def files(studio: Studio, trig: Trigger, *args: Any) -> tuple:
    upload, filename, doc, meta, mstate, value, _run_id = args[-7:]
    f = Files(studio, doc, meta or state.empty_meta())
    which = trig.id
    if trig.empty_pattern:
        return NOTHING
    if "url.pathname" in trig.prop_ids:  # page load (the stores report too)
        which = "url"
    elif which in (state.GO_NEW, state.GO_IMPORT) and not trig.value:
        return NOTHING  # the store's first value, not a click let through
    try:
        return _dispatch(f, which, upload, filename, mstate, value)
    except (FlowStoreError, FlowError, OSError) as exc:
        msg = (
            "; ".join(p.message for p in exc.problems[:3])
            if isinstance(exc, FlowError)
            else str(exc)
        )
        action = AUDITED.get(which) if isinstance(which, str) else None
        if which == "modal-ok" and (mstate or {}).get("action") in ("saveas", "rename", "delete"):
            action = f"flow.{mstate['action']}"
        if action:
            auth.audit(studio.ws, action, "failed", flow=f.meta.get("file"), detail=msg)
        return modal_error(msg) if which == "modal-ok" else toast_only(msg, "error")


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        files,
        Output("canvas", "elements"),
        Output(state.META, "data"),
        Output(state.LOADED, "data"),
        Output("modal", "className", allow_duplicate=True),
        Output("modal-error", "children", allow_duplicate=True),
        Output(state.DOWNLOAD, "data"),
        Output(state.TOAST, "data"),
        Input(state.GO_NEW, "data"),
        Input("btn-save", "n_clicks"),
        Input("btn-duplicate", "n_clicks"),
        Input("btn-export", "n_clicks"),
        Input("modal-ok", "n_clicks"),
        Input({"type": "open-flow", "name": ALL}, "n_clicks"),
        Input({"type": "open-sample", "name": ALL}, "n_clicks"),
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        Input(state.GO_IMPORT, "data"),
        Input(state.URL, "pathname"),
        State("upload-flow", "contents"),
        State("upload-flow", "filename"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        State(state.MODAL_STATE, "data"),
        State("modal-input", "value"),
        State(state.RUN_ID, "data"),
        trigger=True,
        prevent_initial_call="initial_duplicate",
    )
