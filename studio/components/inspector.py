"""The inspector (right-hand panel): the flow's summary when nothing is selected, a group's
name, a link's ports, or a node's label and parameters (studio/forms.py), and under it the
selected node's problems and latest status."""

from __future__ import annotations

import json
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from studio import state
from studio.components.canvas import STATUS_ICON
from studio.context import Studio, Trigger, server_callback
from studio.forms import feature_editor_button, param_field
from studio.model import analyze, catalog, doc_to_flow
from studio.runs import run_flow_path

NOTHING = "Select a node to edit its parameters."
SHORTCUTS = (
    "Shortcuts: Delete removes the selection · Ctrl+Z / Ctrl+Shift+Z undo and redo · "
    "Ctrl+C / Ctrl+V copy and paste · Shift+drag from one node to another links them."
)


def edge_id(lk: dict[str, Any]) -> str:
    return f"{lk['source']}.{lk['sourcePort']}->{lk['target']}.{lk['targetPort']}"


def flow_info(doc: dict[str, Any], meta: dict[str, Any]) -> Any:
    n, m = len(doc.get("nodes", [])), len(doc.get("links", []))
    params = meta.get("params") or {}
    return html.Div(
        [
            html.H3(meta.get("name") or "untitled"),
            html.Div(meta.get("description") or "", className="help"),
            html.Div(
                f"{n} node{'s' if n != 1 else ''}, {m} link{'s' if m != 1 else ''}",
                className="muted",
            ),
            html.Div(
                [
                    html.Div("Flow parameters", className="group-title"),
                    *[html.Div([html.Code(k), f" = {json.dumps(v)}"]) for k, v in params.items()],
                ]
            )
            if params
            else None,
            html.Hr(),
            html.Div(
                "Select a node to edit its parameters, or a link to choose its ports.",
                className="muted",
            ),
            html.Div(SHORTCUTS, className="help"),
        ]
    )


def group_form(doc: dict[str, Any], gid: str) -> Any:
    group = next((g for g in doc.get("groups", []) if g["id"] == gid), None)
    if group is None:
        return html.Div(NOTHING, className="muted")
    labels = {n["id"]: n.get("label") or n["id"] for n in doc.get("nodes", [])}
    return html.Div(
        [
            html.H3("Group"),
            html.Label("Name", className="plabel"),
            dcc.Input(
                id={"type": "label", "node": group["id"]},
                value=group["name"],
                type="text",
                debounce=True,
                className="field",
            ),
            html.Div(
                f"{len(group['nodes'])} node(s): "
                + ", ".join(labels.get(n, n) for n in group["nodes"]),
                className="help",
            ),
            html.Div(
                "Double-click the group (or Collapse) to fold it into one box; Ungroup keeps the "
                "nodes and removes the box; Delete removes the group with its nodes.",
                className="help",
            ),
        ]
    )


def _port_picker(eid: str, end: str, ports: list[dict[str, Any]], value: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id={"type": "edgeport", "edge": eid, "end": end},
        options=[{"label": f"{p['name']} ({p['type']})", "value": p["name"]} for p in ports],
        value=value,
        clearable=False,
    )


def link_form(doc: dict[str, Any], eid: str, cat: dict[str, Any]) -> Any:
    edge = next((lk for lk in doc.get("links", []) if edge_id(lk) == eid), None)
    if edge is None:
        return html.Div(NOTHING, className="muted")
    nodes = {n["id"]: n for n in doc["nodes"]}
    src, dst = nodes.get(edge["source"]), nodes.get(edge["target"])
    so, do = cat.get(src["op"]) if src else None, cat.get(dst["op"]) if dst else None
    if not so or not do:
        return html.Div("Unknown operators at this link's ends.", className="muted")
    return html.Div(
        [
            html.H3("Link"),
            html.Div(
                f"{src.get('label') or src['id']} → {dst.get('label') or dst['id']}",
                className="muted",
            ),
            html.Label("From output", className="plabel"),
            _port_picker(eid, "source", so["outputs"], edge["sourcePort"]),
            html.Label("To input", className="plabel"),
            _port_picker(eid, "target", do["inputs"], edge["targetPort"]),
            html.Div("Delete or Backspace removes the link.", className="help"),
        ]
    )


def _ports(spec: dict[str, Any]) -> html.Div:
    ins = ", ".join(
        f"{p['name']} ({p['type']}{', optional' if p['optional'] else ''})" for p in spec["inputs"]
    )
    outs = ", ".join(f"{p['name']} ({p['type']})" for p in spec["outputs"])
    return html.Div(
        [html.Div("in: " + (ins or "—")), html.Div("out: " + (outs or "—"))], className="ports"
    )


def first_table_port(spec: dict[str, Any]) -> str | None:
    return next((p["name"] for p in spec["inputs"] if p["type"] == "table"), None)


def node_columns(studio: Studio, doc: dict, meta: dict, node_id: str, spec: dict) -> list[str]:
    """The columns reaching the node's first table input, from the document as it is now
    (the problems store may lag one edit behind)."""
    flow = doc_to_flow(doc, meta, run_flow_path(studio.ws, meta.get("file")))
    by_port = analyze(flow, studio.roots).input_columns.get(node_id, {})
    port = first_table_port(spec)
    return by_port.get(port, []) if port else []


def node_form(node: dict[str, Any], spec: dict[str, Any], columns: list[str]) -> Any:
    fields = [
        param_field(node["id"], p, (node.get("params") or {}).get(p["name"]), columns)
        for p in spec["params"]
    ]
    return html.Div(
        [
            html.Div(spec["category"], className="badge", style={"background": spec["colour"]}),
            html.H3(spec["title"] or spec["id"]),
            html.Div(
                [html.Code(spec["id"]), f"  ·  node id: {node['id']}"], className="muted small"
            ),
            html.Div(spec["description"], className="help"),
            _ports(spec),
            html.Label("Label", className="plabel"),
            dcc.Input(
                id={"type": "label", "node": node["id"]},
                value=node.get("label") or "",
                type="text",
                debounce=True,
                className="field",
            ),
            html.Hr(),
            feature_editor_button(node["id"], "exclude") if spec["id"] == "features.auto" else None,
            *fields,
        ],
        className="node-form",
    )


def _selected_node(sel: dict | None, doc: dict) -> dict[str, Any] | None:
    if not sel or sel.get("kind") != "node":
        return None
    return next((n for n in doc.get("nodes", []) if n["id"] == sel["id"]), None)


def columns_unchanged(sel: dict | None, doc: dict, probs: dict | None, shown: dict | None) -> bool:
    """After an edit, whether the selected node's form would offer the same columns as the
    form shown (then it stays as it is: re-rendering it would lose what the user types)."""
    node = _selected_node(sel, doc)
    spec = catalog().get(node["op"]) if node else None
    if not node or not spec or not shown or shown.get("id") != node["id"]:
        return True
    port = first_table_port(spec)
    now = ((probs or {}).get("columns") or {}).get(node["id"], {}).get(port, []) if port else []
    return now == shown.get("columns")


def render(studio: Studio, sel: dict | None, doc: dict, meta: dict) -> tuple[Any, Any]:
    """The inspector for the selection, and what it shows (INSPECTED)."""
    if not sel or not sel.get("id"):
        return flow_info(doc, meta), None
    if sel.get("kind") == "group":
        return group_form(doc, sel["id"]), None
    if sel.get("kind") == "edge":
        return link_form(doc, sel["id"], catalog()), None
    node = _selected_node(sel, doc)
    if node is None:
        return html.Div(NOTHING, className="muted"), None
    spec = catalog().get(node["op"])
    if spec is None:
        return html.Div(f'Unknown operator "{node["op"]}".', className="error"), None
    columns = node_columns(studio, doc, meta, node["id"], spec)
    return node_form(node, spec, columns), {"id": node["id"], "columns": columns}


def inspector(
    studio: Studio,
    trig: Trigger,
    sel: dict | None,
    probs: dict | None,
    doc: dict | None,
    meta: dict | None,
    shown: dict | None,
) -> tuple[Any, Any]:
    """Outputs: the inspector, INSPECTED. A new selection renders it; an edit re-renders it
    only when the columns it offers changed (a link just drawn fills the column pickers)."""
    doc = doc or {"nodes": [], "links": []}
    if trig.id == state.PROBLEMS and columns_unchanged(sel, doc, probs, shown):
        return no_update, no_update
    return render(studio, sel, doc, meta or state.empty_meta())


def inspector_messages(
    studio: Studio, sel: dict | None, probs: dict | None, run: dict | None
) -> Any:
    if not sel or sel.get("kind") != "node":
        return None
    out: list[Any] = [
        html.Div(p["message"], className="inline-error")
        for p in (probs or {}).get("problems", [])
        if p.get("node") == sel["id"]
    ]
    n = ((run or {}).get("nodes") or {}).get(sel["id"])
    if n:
        secs = f" in {n['seconds']:.1f} s" if n.get("seconds") is not None else ""
        rows = ", ".join(f"{k}: {v:,} rows" for k, v in (n.get("rows") or {}).items())
        out.append(
            html.Div(
                f"{STATUS_ICON.get(n['status'], '')} {n['status']}{secs}"
                + (f" — {rows}" if rows else ""),
                className=f"status-line s-{n['status']}",
            )
        )
        if n.get("error"):
            out.append(html.Div(n["error"], className="inline-error node-error"))
    return out


def layout() -> html.Div:
    return html.Div(
        [html.Div(id="inspector"), html.Div(id="inspector-messages")], className="inspector"
    )


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        inspector,
        Output("inspector", "children"),
        Output(state.INSPECTED, "data"),
        Input(state.SELECTION, "data"),
        Input(state.PROBLEMS, "data"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        State(state.INSPECTED, "data"),
        trigger=True,
    )
    server_callback(
        app,
        studio,
        inspector_messages,
        Output("inspector-messages", "children"),
        Input(state.SELECTION, "data"),
        Input(state.PROBLEMS, "data"),
        Input(state.RUN_STATE, "data"),
    )
