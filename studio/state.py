"""Every store of the studio, by name: what each one holds and who writes it.

Components and pages refer to stores through these names only, so a store's meaning is
written down once. Stores hold data, never side effects: a callback that only acts (on the
canvas in the browser, say) has no output at all."""

from __future__ import annotations

import time
from typing import Any

from dash import dcc

# the canvas document the browser pushes after every edit (assets/10_seer_canvas.js)
DOC = "doc"
# the flow's file, name, identity, description, params and the hash of what is saved
META = "meta"
# what is selected on the canvas: {"kind": "node" | "edge" | "group", "id": ...}
SELECTION = "selection"
# what the inspector shows: {"id": node id, "columns": the columns its fields offer}
INSPECTED = "inspected"
# validation of the document: {"problems": [...], "columns": {node: {port: [columns]}}}
PROBLEMS = "problems-store"
# a timestamp set when the server loaded a flow onto the canvas (New, Open, Import, a run)
LOADED = "loaded"
# the run shown (kept per tab, so a reload reattaches), its polled state, and its end
RUN_ID = "run-id"
RUN_STATE = "run-state"
RUN_DONE = "run-done"
# what the shared modal dialog is doing: {"action": "saveas" | "rename" | ..., ...}
MODAL_STATE = "modal-state"
# the page shown: flow, runs, models, users, audit
PAGE = "page"
# a file picked in the file dialog for a node's path parameter
BROWSE_TARGET = "browse-target"
# the model just published, and the last action on the models page (both refresh it)
PUBLISH_TARGET = "publish-target"
MODELS_ACTION = "models-action"
# what the feature editor shows about a node's input columns (studio/components/featureeditor.py)
FEATURE_PROFILE = "feature-profile"
# a message for the toast: {"msg", "kind": "info" | "error", "ts"}
TOAST = "toast-msg"
# a data file just uploaded: the browser adds an import node reading it
UPLOADED = "uploaded"
# the flow-file actions the unsaved-changes guard lets through (studio/dialogs.py)
GO_NEW = "go-new"
GO_OPEN = "go-open"
GO_IMPORT = "go-import"
UNSAVED_PENDING = "unsaved-pending"
# another tab or user saved the flow under us (studio/conflicts.py)
CONFLICT = "conflict"

DOWNLOAD = "download"
POLL = "poll"
MODELS_POLL = "models-poll"
URL = "url"


def empty_meta(name: str = "untitled") -> dict[str, Any]:
    return {"name": name, "file": None, "description": "", "params": {}, "ui": {}, "saved": None}


def toast(msg: str, kind: str = "info") -> dict[str, Any]:
    """A value for the TOAST store."""
    return {"msg": msg, "kind": kind, "ts": time.time()}


def stores() -> list[Any]:
    """The stores of the app's layout (the dialogs' own stores come with their dialogs)."""
    return [
        dcc.Store(id=DOC, data=None, storage_type="session"),
        dcc.Store(id=META, data=empty_meta(), storage_type="session"),
        dcc.Store(id=SELECTION, data=None),
        dcc.Store(id=PROBLEMS, data={"problems": [], "columns": {}}),
        dcc.Store(id=INSPECTED, data=None),
        dcc.Store(id=LOADED, data=None),
        dcc.Store(id=RUN_ID, data=None, storage_type="session"),
        dcc.Store(id=RUN_STATE, data=None),
        dcc.Store(id=RUN_DONE, data=None),
        dcc.Store(id=MODAL_STATE, data=None),
        dcc.Store(id=PAGE, data="flow"),
        dcc.Store(id=BROWSE_TARGET, data=None),
        dcc.Store(id=PUBLISH_TARGET, data=None),
        dcc.Store(id=MODELS_ACTION),
        dcc.Store(id=TOAST),
        dcc.Store(id=UPLOADED),
        dcc.Store(id=FEATURE_PROFILE),
        dcc.Download(id=DOWNLOAD),
        dcc.Interval(id=POLL, interval=600, disabled=True),
        dcc.Interval(id=MODELS_POLL, interval=3000, disabled=True),
        dcc.Location(id=URL),
    ]
