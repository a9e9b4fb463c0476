"""The canvas: its look (node statuses, links, groups), its toolbar, the cytoscape component,
and the stylesheet that shows validation problems and run statuses without touching the graph
the browser owns (assets/10_seer_canvas.js)."""

from __future__ import annotations

from typing import Any

import dash
import dash_cytoscape as cyto
from dash import Input, Output, State, html

from studio import identity, state
from studio.components.widgets import button
from studio.context import Studio, clientside_callback, server_callback

STATUS_STYLE = {
    "queued": {"border-color": "#9ca3af", "border-style": "dashed"},
    "running": {"border-color": "#2563eb", "border-width": 4, "background-color": "#eff6ff"},
    "succeeded": {"border-color": "#16a34a", "border-width": 3, "background-color": "#f0fdf4"},
    "cached": {"border-color": "#16a34a", "border-width": 3, "background-color": "#ecfeff"},
    "failed": {"border-color": "#dc2626", "border-width": 4, "background-color": "#fef2f2"},
    "cancelled": {"border-color": "#a16207", "border-width": 3, "background-color": "#fefce8"},
    "skipped": {"border-color": "#9ca3af", "border-style": "dotted", "background-color": "#f9fafb"},
}
STATUS_ICON = {
    "queued": "◌",
    "running": "▶",
    "succeeded": "✓",
    "cached": "⟲",
    "failed": "✗",
    "cancelled": "■",
    "skipped": "–",
}

BASE_STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "shape": "round-rectangle",
            "width": 150,
            "height": 46,
            "background-color": "#ffffff",
            "border-width": 2,
            "border-color": "data(colour)",
            "label": "data(label)",
            "text-valign": "center",
            "text-halign": "center",
            "text-wrap": "wrap",
            "text-max-width": 104,
            "font-size": 12,
            "font-family": "Inter, system-ui, sans-serif",
            "color": "#111827",
        },
    },
    {
        "selector": "node.note",
        "style": {
            "shape": "rectangle",
            "background-color": "#fef9c3",
            "border-color": "#eab308",
            "border-width": 1,
            "width": 180,
            "height": 60,
            "text-max-width": 170,
            "font-size": 11,
            "color": "#713f12",
        },
    },
    {
        "selector": "edge",
        "style": {
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "width": 2,
            "line-color": "#94a3b8",
            "target-arrow-color": "#94a3b8",
            "label": "data(label)",
            "font-size": 11,
            "color": "#334155",
            "text-background-color": "#ffffff",
            "text-background-opacity": 1,
            "text-background-padding": 2,
        },
    },
    {
        "selector": "node:selected",
        "style": {"overlay-color": "#2563eb", "overlay-opacity": 0.12, "overlay-padding": 6},
    },
    {
        "selector": "edge:selected",
        "style": {"line-color": "#2563eb", "target-arrow-color": "#2563eb", "width": 3},
    },
    # named groups: a dashed box around their members, a compact box when collapsed
    {
        "selector": "node.group",
        "style": {
            "shape": "round-rectangle",
            "background-color": "#f1f5f9",
            "background-opacity": 0.7,
            "border-style": "dashed",
            "border-width": 1.5,
            "border-color": "#94a3b8",
            "text-valign": "top",
            "text-halign": "center",
            "font-weight": "bold",
            "color": "#334155",
            "padding": 18,
        },
    },
    {
        "selector": "node.group.collapsed",
        "style": {
            "width": 170,
            "height": 50,
            "background-color": "#e0e7ff",
            "background-opacity": 1,
            "border-style": "solid",
            "border-color": "#6366f1",
            "text-valign": "center",
        },
    },
    # ports: a labelled badge per input (left border) and output (right border), drawn by
    # assets/11_seer_ports.js; a link leaves from its output's badge and reaches its input's
    {
        "selector": "node.port",
        "style": {
            "shape": "round-rectangle",
            "width": "data(w)",
            "height": 15,
            "background-color": "#ffffff",
            "border-width": 1.5,
            "border-color": "data(colour)",
            "label": "data(label)",
            "font-size": 10,
            "text-max-width": 200,
            "text-wrap": "none",
            "color": "#1f2937",
            "z-index": 20,
        },
    },
    {"selector": "node.port-out", "style": {"background-color": "#eef2ff"}},
    # a port's type by its fill: models, transforms and reports stand out from tables
    {"selector": 'node.port[type = "model"]', "style": {"background-color": "#fce7f3"}},
    {"selector": 'node.port[type = "transform"]', "style": {"background-color": "#ede9fe"}},
    {
        "selector": 'node.port[type = "metrics"], node.port[type = "report"]',
        "style": {"background-color": "#ffedd5"},
    },
    {"selector": "node.port.optional", "style": {"border-style": "dashed"}},
    {"selector": "node.port-out:active", "style": {"overlay-opacity": 0.15}},
    {"selector": ".hidden-member", "style": {"display": "none"}},
    {
        "selector": "edge.meta",
        "style": {
            "line-style": "dashed",
            "line-color": "#818cf8",
            "target-arrow-color": "#818cf8",
            "label": "",
        },
    },
    # edgehandles' own elements
    {
        "selector": ".eh-handle",
        "style": {
            "background-color": "#2563eb",
            "width": 12,
            "height": 12,
            "shape": "ellipse",
            "label": "",
        },
    },
    {
        "selector": ".eh-preview, .eh-ghost-edge",
        "style": {"line-color": "#2563eb", "target-arrow-color": "#2563eb", "label": ""},
    },
    {"selector": ".eh-ghost-edge.eh-preview-active", "style": {"opacity": 0}},
]


TOOLS = [
    ("Fit", "btn-fit", "Fit the flow in view"),
    ("+", "btn-zoom-in", "Zoom in"),
    ("−", "btn-zoom-out", "Zoom out"),
    ("Auto-layout", "btn-layout", "Arrange the nodes left to right"),
    ("Note", "btn-note", "Add a note to the canvas"),
    ("Group", "btn-group", "Put the selected nodes in a named group"),
    ("Collapse", "btn-collapse", "Collapse or expand the selected group (or double-click it)"),
    ("Ungroup", "btn-ungroup", "Dissolve the selected group, keeping its nodes"),
    ("Undo", "btn-undo", "Undo (Ctrl+Z)"),
    ("Redo", "btn-redo", "Redo (Ctrl+Shift+Z)"),
    ("Delete", "btn-del", "Delete the selection (Delete)"),
]


def toolbar() -> html.Div:
    connect = button(
        "Connect",
        "btn-connect",
        "Drag from node to node to link them (or hold Shift)",
        "btn small",
    )
    return html.Div(
        [
            connect,
            *(button(label, bid, title, "btn small") for label, bid, title in TOOLS),
            html.Span(
                "Drag operators in · Shift+drag or Connect to link · Delete removes",
                className="hint",
            ),
        ],
        className="canvas-tools",
    )


def canvas() -> cyto.Cytoscape:
    return cyto.Cytoscape(
        id="canvas",
        elements=[],
        layout={"name": "preset"},
        autoRefreshLayout=False,
        stylesheet=BASE_STYLESHEET,
        style={"width": "100%", "height": "100%"},
        minZoom=0.2,
        maxZoom=3,
        boxSelectionEnabled=True,
        wheelSensitivity=0.3,
    )


def node_label(status: dict[str, Any], label: str) -> str:
    secs = f"{status['seconds']:.1f} s" if status.get("seconds") is not None else ""
    return f"{STATUS_ICON.get(status['status'], '')} {label}" + (f"\n{secs}" if secs else "")


def stylesheet(
    studio: Studio,
    problems: dict | None,
    run: dict | None,
    doc: dict | None,
    meta: dict | None,
) -> list[dict[str, Any]]:
    """The canvas look: problems as dashed red borders, run statuses (of this flow's runs
    only), outputs the canvas has changed since marked out of date."""
    sheet = list(BASE_STYLESHEET)
    labels = {n["id"]: n.get("label") or n["id"] for n in (doc or {}).get("nodes", [])}
    found = [p for p in (problems or {}).get("problems", []) if p.get("node")]
    bad = {p["node"] for p in found if p.get("severity", "error") == "error"}
    warned = {p["node"] for p in found} - bad
    for nid in sorted(bad | warned):
        colour = "#dc2626" if nid in bad else "#b45309"  # red for errors, amber for warnings
        sheet.append(
            {
                "selector": f'node[id = "{nid}"]',
                "style": {"border-color": colour, "border-style": "dashed", "border-width": 3},
            }
        )
    final = (run or {}).get("status") not in (None, "running")
    stale = (
        identity.stale_nodes(studio.ws, doc, meta, run.get("run_id"), studio.roots)
        if final
        else set()
    )
    for nid, n in ((run or {}).get("nodes") or {}).items():
        if nid not in labels:
            continue
        style = dict(STATUS_STYLE.get(n["status"], {}))
        style["label"] = node_label(n, labels[nid])
        if nid in stale:  # the canvas changed since: its output is not current
            style.update(identity.STALE_STYLE)
            style["label"] = f"⚠ {labels[nid]}\nout of date"
        sheet.append({"selector": f'node[id = "{nid}"]', "style": style})
    return sheet


def register(app: dash.Dash, studio: Studio) -> None:
    clientside_callback(
        app,
        "canvasTool",
        *(Input(bid, "n_clicks") for _, bid, _ in TOOLS),
        prevent_initial_call=True,
    )
    clientside_callback(
        app, "toggleConnect", Input("btn-connect", "n_clicks"), prevent_initial_call=True
    )
    clientside_callback(app, "onLoaded", Input(state.LOADED, "data"), prevent_initial_call=True)
    server_callback(
        app,
        studio,
        stylesheet,
        Output("canvas", "stylesheet"),
        Input(state.PROBLEMS, "data"),
        Input(state.RUN_STATE, "data"),
        State(state.DOC, "data"),
        State(state.META, "data"),
    )
