"""The unsaved-changes guard as plain functions (no browser): when it asks, what each answer
does to the files, and that selecting a node (whose form drops default params) is no edit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask
import pytest

from engine.workspace import Workspace
from studio import dialogs
from studio.model import FlowFolder, doc_to_flow, flow_meta, saved_hash


@pytest.fixture(autouse=True)
def editor() -> Iterator[None]:
    """Each test acts as a signed-in editor (what the studio's front door sets per request)."""
    from studio.auth import User

    with flask.Flask(__name__).app_context():
        flask.g.seer_user = User("eli", "editor")
        yield


DOC = {
    "nodes": [
        {"id": "split", "op": "split", "x": 10.0, "y": 20.0, "params": {"ratio": 0.7}},
    ],
    "links": [],
}


def _saved(ws: Workspace, flows: FlowFolder, name: str) -> dict:
    flow = doc_to_flow(DOC, {"name": name, "id": "f1"})
    flows.save(flow, name)
    return {**flow_meta(flow), "file": name, "saved": saved_hash(flow), "disk": None}


def test_the_guard_asks_only_when_something_would_be_lost(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    flows = FlowFolder(ws.flows_dir)
    ws.flows_dir.mkdir(parents=True)
    meta = _saved(ws, flows, "mine")

    # nothing to lose: New goes straight through
    go_new, go_open, go_import, cls, *_ = dialogs.guard(
        ws, flows, "btn-new", DOC, meta, None, None, None
    )
    assert go_new and cls == "modal hidden"
    assert not dialogs.guard(
        ws, flows, "btn-new", {"nodes": [], "links": []}, {}, None, None, None
    )[3].endswith("modal")

    # a param a form drops because it equals the default is no change
    same = {"nodes": [{**DOC["nodes"][0], "params": {"ratio": 0.7, "seed": 42}}], "links": []}
    assert not dialogs.is_dirty(ws, same, meta)

    # an edit: Open asks, Cancel changes nothing, Save writes and goes on
    edited = {"nodes": [{**DOC["nodes"][0], "params": {"ratio": 0.5}}], "links": []}
    out = dialogs.guard(ws, flows, "btn-open", edited, meta, None, None, None)
    assert out[3] == "modal" and out[7] == {"action": "open"} and out[5] == {"display": "none"}
    out = dialogs.guard(ws, flows, "unsaved-cancel", edited, meta, {"action": "open"}, None, None)
    assert out[3] == "modal hidden" and out[1] is dialogs.no_update
    assert flows.load("mine").nodes[0].params == {"ratio": 0.7}
    out = dialogs.guard(ws, flows, "unsaved-save", edited, meta, {"action": "open"}, None, None)
    assert out[1] and out[3] == "modal hidden"
    assert flows.load("mine").nodes[0].params == {"ratio": 0.5}
    assert flows.load("mine").id == "f1"  # saving keeps the flow's identity


def test_a_flow_never_saved_is_saved_under_the_name_given(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    flows = FlowFolder(ws.flows_dir)
    ws.flows_dir.mkdir(parents=True)
    _saved(ws, flows, "taken")
    meta = {"name": "untitled", "id": "f2", "file": None, "saved": None}
    out = dialogs.guard(ws, flows, "btn-new", DOC, meta, None, None, None)
    assert out[3] == "modal" and out[5] == {}  # the name field shows
    out = dialogs.guard(ws, flows, "unsaved-save", DOC, meta, {"action": "new"}, "taken", None)
    assert "exists" in out[6] and out[0] is dialogs.no_update
    out = dialogs.guard(ws, flows, "unsaved-save", DOC, meta, {"action": "new"}, "a/b", None)
    assert out[6] and out[0] is dialogs.no_update  # a bad name: its reason, nothing written
    out = dialogs.guard(ws, flows, "unsaved-save", DOC, meta, {"action": "new"}, "fresh", None)
    assert out[0] and flows.load("fresh").id == "f2"
    # Discard goes on without writing
    out = dialogs.guard(ws, flows, "unsaved-discard", DOC, meta, {"action": "import"}, None, None)
    assert out[2] and not (ws.flows_dir / "untitled.flow.json").exists()
