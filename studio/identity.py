"""Which results belong to the flow on the canvas.

A flow carries a stable id (``Flow.id``, kept in its file); each run records it. A node shows a
status, an output or a Publish button only from a run of *this* flow, and an output computed
from other params or other upstream data than the canvas now has is marked out of date: its
cache key (engine/runner.py ``node_cache_keys``) differs from the one the current flow gives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from engine.dataroots import DataRoots
from engine.flow import Flow, FlowError, analyze_flow
from engine.runner import node_cache_keys
from engine.workspace import Workspace


def new_flow_id() -> str:
    """A fresh flow id (for a new flow, a copy, or a file saved before flows had ids)."""
    return uuid.uuid4().hex


def with_id(meta: dict[str, Any], fresh: bool = False) -> dict[str, Any]:
    """``meta`` with a flow id: its own, or a new one when it has none or ``fresh`` is set."""
    if fresh or not meta.get("id"):
        return {**meta, "id": new_flow_id()}
    return meta


def shown_run(ws: Workspace, run_id: str | None, flow_id: str | None) -> str | None:
    """The run whose statuses the canvas shows: the tab's own run when it is of this flow,
    else this flow's newest run (made in another tab, or before a restart), else none."""
    if run_belongs(ws, run_id, flow_id):
        return run_id
    return ws.store.latest_flow_run(flow_id) if flow_id else None


@dataclass
class NodeResult:
    """A node's outputs from the newest run of its flow that produced them."""

    run_id: str
    outputs: dict[str, Any]
    #: False when the canvas now has other params or upstream than the run used
    current: bool


def run_belongs(ws: Workspace, run_id: str | None, flow_id: str | None) -> bool:
    """True when ``run_id`` is a run of the flow ``flow_id``."""
    if not run_id or not flow_id:
        return False
    run = ws.store.get_run(run_id)
    return bool(run) and run.get("flow_id") == flow_id


def node_result(
    ws: Workspace,
    flow: Flow,
    nid: str,
    run_id: str | None = None,
    roots: DataRoots | None = None,
) -> NodeResult | None:
    """The outputs of node ``nid`` of ``flow`` (the canvas): from ``run_id`` when it is a run
    of this flow that produced them, else from this flow's newest run that did; None when no
    run of this flow has them."""
    if not flow.id:
        return None
    store = ws.store
    found = store.flow_node_runs(flow.id, nid)
    found.sort(key=lambda r: r["run_id"] != run_id)  # the tab's own run first, else newest
    for r in found:
        entry = store.cache_get(r["cache_key"]) if r["cache_key"] else None
        if entry is None:
            continue
        return NodeResult(r["run_id"], entry["outputs"], _is_current(flow, nid, r, roots))
    return None


def _is_current(flow: Flow, nid: str, node_run: dict[str, Any], roots: DataRoots | None) -> bool:
    """Whether the canvas would compute the node's output exactly as that run did."""
    try:
        prepared, _problems = analyze_flow(flow, roots=roots)
        keys, _ = node_cache_keys(prepared, node_run["run_id"])
    except (FlowError, KeyError, ValueError, TypeError):  # a node the canvas cannot resolve
        return False
    return keys.get(nid) == node_run["cache_key"]


def canvas_result(
    ws: Workspace,
    doc: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    nid: str,
    run_id: str | None = None,
    roots: DataRoots | None = None,
) -> NodeResult | None:
    """``node_result`` for the flow on a tab's canvas (its doc and meta stores), built as a
    run from that tab would build it."""
    from studio.model import doc_to_flow
    from studio.runs import run_flow_path

    meta = meta or {}
    if not meta.get("id"):
        return None
    flow = doc_to_flow(doc or {"nodes": [], "links": []}, meta, run_flow_path(ws, meta.get("file")))
    return node_result(ws, flow, nid, run_id, roots)


def stale_notice(result: NodeResult) -> Any:
    """The banner over an output that no longer matches the canvas (None when it does)."""
    from dash import html

    if result.current:
        return None
    return html.Div(
        [
            html.B("Out of date. "),
            f"This output comes from run {result.run_id}, made with other parameters or other "
            "upstream data than the canvas now has. Run the flow to bring it up to date.",
        ],
        className="stale-banner",
        role="status",
    )


STALE_STYLE = {
    "border-color": "#b45309",
    "border-style": "dashed",
    "border-width": 3,
    "background-color": "#fffbeb",
}


def stale_nodes(
    ws: Workspace,
    doc: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    run_id: str | None,
    roots: DataRoots | None = None,
) -> set[str]:
    """The nodes whose outputs from ``run_id`` (a run of the canvas's flow) no longer match
    the canvas: other params or other upstream data since that run."""
    from studio.model import doc_to_flow
    from studio.runs import run_flow_path

    meta = meta or {}
    if not run_belongs(ws, run_id, meta.get("id")):
        return set()
    assert run_id is not None
    done = [
        r
        for r in ws.store.node_runs(run_id)
        if r["status"] in ("succeeded", "cached") and r.get("cache_key")
    ]
    if not done:
        return set()
    flow = doc_to_flow(doc or {"nodes": [], "links": []}, meta, run_flow_path(ws, meta.get("file")))
    try:
        prepared, _problems = analyze_flow(flow, roots=roots)
        keys, _ = node_cache_keys(prepared, run_id)
    except (FlowError, KeyError, ValueError, TypeError):
        keys = {}
    return {r["node_id"] for r in done if keys.get(r["node_id"]) != r["cache_key"]}
