"""The studio: a Dash app around a dash-cytoscape canvas.

The browser owns the graph (assets/10_seer_canvas.js): it creates nodes on drop, links them,
deletes, undoes, and pushes the canvas document to the `doc` store. The server validates that
document, renders the inspector from operator specs, saves flows, runs them on the warm
SparkSession and shows results. The server writes the canvas `elements` only when a flow is
loaded (New, Open, Import, a past run)."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import dash
import dash_cytoscape as cyto
from dash import ALL, MATCH, Input, Output, State, ctx, dash_table, dcc, html, no_update

from engine.dataroots import DataRoots
from engine.flow import FlowError
from engine.runproblems import latest_run_problems
from engine.workspace import Workspace
from studio import admin, auth, charts, conflicts, dialogs, identity
from studio.forms import param_field
from studio.model import (
    FlowFolder,
    FlowStoreError,
    analyze,
    catalog,
    doc_to_flow,
    flow_meta,
    flow_text,
    flow_to_elements,
    load_sample,
    palette_groups,
    parse_upload,
    sample_flows,
    saved_hash,
)
from studio.runs import RunManager, run_flow_path
from studio.services import ScoringService, try_it_fields

log = logging.getLogger("seer.studio")
ASSETS = Path(__file__).resolve().parent.parent / "assets"

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
            "text-max-width": 140,
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
            "font-size": 9,
            "color": "#64748b",
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


def _empty_meta(name: str = "untitled") -> dict[str, Any]:
    return {"name": name, "file": None, "description": "", "params": {}, "ui": {}, "saved": None}


def create_app(
    workspace: Workspace,
    master: str | None = None,
    serve_port: int = 8600,
    bind_host: str = "127.0.0.1",
    allowed_hosts: tuple[str, ...] = (),
    data_roots: tuple[str, ...] = (),
) -> dash.Dash:
    ws = workspace
    flows = FlowFolder(ws.flows_dir)
    # the studio's flows live in the workspace's flows/ folder: one set of roots for all
    roots = DataRoots.for_flow(ws.flows_dir, ws.root, data_roots)
    runs = RunManager(ws, master, roots)
    scoring = ScoringService(ws, port=serve_port)
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="Seer studio",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = 512 * 1024 * 1024
    _routes(app, ws, flows)
    auth.install(app, ws, bind_host, allowed_hosts)

    # -- layout ---------------------------------------------------------------------------
    palette = []
    for cat, specs in palette_groups():
        items = [
            html.Div(
                [
                    html.Span(className="dot", style={"background": s["colour"]}),
                    html.Span(s["title"] or s["id"]),
                ],
                className="op",
                draggable="true",
                title=f"{s['id']}: {s['description']}",
                **{
                    "data-optype": s["id"],
                    "data-search": f"{s['id']} {s['title']} {s['description']} {cat}".lower(),
                },
            )
            for s in specs
        ]
        palette.append(
            html.Div([html.Div(cat, className="group-title"), *items], className="group")
        )

    def tb(label: str, bid: str, title: str = "", cls: str = "btn") -> html.Button:
        return html.Button(label, id=bid, n_clicks=0, className=cls, title=title)

    header = html.Div(
        [
            html.Div([html.Span("◉", className="logo-mark"), "Seer"], className="logo"),
            html.Div(
                [
                    tb("Flow", "page-flow", "The flow editor", "tab active"),
                    tb("Runs", "page-runs", "Run history", "tab"),
                    tb("Models", "page-models", "Model registry and serving", "tab"),
                ],
                className="tabs",
            ),
            html.Div(
                [
                    html.Span("untitled", id="flow-name", className="flow-name"),
                    html.Span("", id="dirty", className="dirty"),
                ],
                className="title",
            ),
            html.Div(
                [
                    tb("New", "btn-new", "Start an empty flow"),
                    tb("Open", "btn-open", "Open a flow or a sample"),
                    tb("Save", "btn-save", "Save (Ctrl+S)"),
                    tb("Save as", "btn-saveas", "Save under a new name"),
                    tb("Rename", "btn-rename", "Rename the flow file"),
                    tb("Duplicate", "btn-duplicate", "Save a copy and open it"),
                    tb("Delete", "btn-delete", "Delete the flow file"),
                    dcc.Upload(
                        html.Button(
                            "Import", className="btn", title="Open a flow file from your computer"
                        ),
                        id="upload-flow",  # any file: a wrong one is refused with the reason
                    ),
                    tb("Export", "btn-export", "Download the flow file"),
                ],
                className="toolbar",
            ),
            html.Div(
                [
                    tb(
                        "▶ Run all",
                        "btn-run",
                        "Run every node (cached ones are reused)",
                        "btn primary",
                    ),
                    tb("Run to here", "btn-run-to", "Run what the selected node needs, and it"),
                    tb(
                        "Rerun node", "btn-rerun", "Run the selected node again, ignoring its cache"
                    ),
                    tb("■ Stop", "btn-stop", "Cancel the run", "btn danger"),
                ],
                className="toolbar run",
            ),
            admin.header_area(),
        ],
        className="header",
    )

    canvas_tools = html.Div(
        [
            html.Button(
                "Connect",
                id="btn-connect",
                n_clicks=0,
                className="btn small",
                title="Drag from node to node to link them (or hold Shift)",
            ),
            tb("Fit", "btn-fit", "Fit the flow in view", "btn small"),
            tb("+", "btn-zoom-in", "Zoom in", "btn small"),
            tb("−", "btn-zoom-out", "Zoom out", "btn small"),
            tb("Auto-layout", "btn-layout", "Arrange the nodes left to right", "btn small"),
            tb("Note", "btn-note", "Add a note to the canvas", "btn small"),
            tb("Group", "btn-group", "Put the selected nodes in a named group", "btn small"),
            tb(
                "Collapse",
                "btn-collapse",
                "Collapse or expand the selected group (or double-click it)",
                "btn small",
            ),
            tb(
                "Ungroup",
                "btn-ungroup",
                "Dissolve the selected group, keeping its nodes",
                "btn small",
            ),
            tb("Undo", "btn-undo", "Undo (Ctrl+Z)", "btn small"),
            tb("Redo", "btn-redo", "Redo (Ctrl+Shift+Z)", "btn small"),
            tb("Delete", "btn-del", "Delete the selection (Delete)", "btn small"),
            html.Span(
                "Drag operators in · Shift+drag or Connect to link · Delete removes",
                className="hint",
            ),
        ],
        className="canvas-tools",
    )

    flow_page = html.Div(
        [
            html.Div(
                [
                    dcc.Input(
                        id="palette-search",
                        type="search",
                        placeholder="Search operators…",
                        className="search",
                        debounce=False,
                    ),
                    dcc.Upload(
                        html.Div(
                            "⇪ Upload a CSV",
                            title="Copy a CSV file into the workspace and add an Import CSV node for it",
                        ),
                        id="upload-data",
                        className="upload",
                        # no `accept` filter: the browser would drop other files silently; the
                        # server refuses them with a message instead
                    ),
                    html.Div(palette, id="palette-groups"),
                ],
                className="palette",
                id="palette",
            ),
            html.Div(
                [
                    canvas_tools,
                    cyto.Cytoscape(
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
                    ),
                    html.Div(id="toast", className="toast"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    tb("Problems", "bt-problems", "", "btab active"),
                                    tb("Run log", "bt-log", "", "btab"),
                                    tb("Output", "bt-output", "", "btab"),
                                    html.Span(id="run-status", className="run-status"),
                                ],
                                className="btabs",
                            ),
                            html.Div(id="problems", className="bpanel"),
                            html.Div(id="run-log", className="bpanel hidden"),
                            html.Div(id="output", className="bpanel hidden"),
                        ],
                        className="bottom",
                    ),
                ],
                className="center",
            ),
            html.Div(
                [html.Div(id="inspector"), html.Div(id="inspector-messages")],
                className="inspector",
            ),
        ],
        className="flow-page",
        id="flow-page",
    )

    modal = html.Div(
        html.Div(
            [
                html.Div(id="modal-title", className="modal-title"),
                html.Div(id="modal-body"),
                dcc.Input(id="modal-input", type="text", className="field", debounce=False),
                html.Div(id="modal-error", className="error"),
                html.Div(
                    [tb("Cancel", "modal-cancel"), tb("OK", "modal-ok", "", "btn primary")],
                    className="modal-buttons",
                ),
            ],
            className="modal-box",
        ),
        id="modal",
        className="modal hidden",
    )

    app.layout = html.Div(
        [
            header,
            flow_page,
            html.Div(id="runs-page", className="page hidden"),
            html.Div(id="models-page", className="page hidden"),
            *admin.pages(),
            modal,
            dcc.Store(id="doc", data=None, storage_type="session"),
            dcc.Store(id="meta", data=_empty_meta(), storage_type="session"),
            dcc.Store(id="selection", data=None),
            dcc.Store(id="problems-store", data={"problems": [], "columns": {}}),
            dcc.Store(id="loaded", data=None),
            dcc.Store(id="run-id", data=None, storage_type="session"),
            dcc.Store(id="run-state", data=None),
            dcc.Store(id="run-done", data=None),
            dcc.Store(id="modal-state", data=None),
            dcc.Store(id="dummy"),
            dcc.Store(id="dummy2"),
            dcc.Store(id="page", data="flow"),
            dcc.Store(id="browse-target", data=None),
            dcc.Store(id="publish-target", data=None),
            dcc.Download(id="download"),
            dcc.Interval(id="poll", interval=600, disabled=True),
            dcc.Interval(id="models-poll", interval=3000, disabled=True),
            dcc.Location(id="url"),
        ],
        className="app",
    )

    # -- the palette search and canvas tools (in the browser) ---------------------------------
    app.clientside_callback(
        """function(q){ q=(q||'').toLowerCase().trim();
        document.querySelectorAll('#palette [data-optype]').forEach(function(el){
          el.style.display = (!q || el.getAttribute('data-search').indexOf(q) >= 0) ? '' : 'none'; });
        document.querySelectorAll('#palette .group').forEach(function(g){
          var any = Array.from(g.querySelectorAll('[data-optype]')).some(function(el){ return el.style.display !== 'none'; });
          g.style.display = any ? '' : 'none'; });
        return window.dash_clientside.no_update; }""",
        Output("dummy", "data", allow_duplicate=True),
        Input("palette-search", "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(){
        var t = window.dash_clientside.callback_context.triggered[0]; if(!t) return window.dash_clientside.no_update;
        var S = window.SEER, id = t.prop_id.split('.')[0];
        if (id==='btn-fit') S.fit(); else if (id==='btn-zoom-in') S.zoomBy(1.25); else if (id==='btn-zoom-out') S.zoomBy(0.8);
        else if (id==='btn-layout') S.autoLayout(); else if (id==='btn-note') S.addNote();
        else if (id==='btn-group') S.groupSelected(); else if (id==='btn-collapse') S.toggleGroup();
        else if (id==='btn-ungroup') S.ungroup();
        else if (id==='btn-undo') S.undoOnce(); else if (id==='btn-redo') S.redoOnce();
        else if (id==='btn-del') S.deleteSelected();
        return window.dash_clientside.no_update; }""",
        Output("dummy", "data", allow_duplicate=True),
        Input("btn-fit", "n_clicks"),
        Input("btn-zoom-in", "n_clicks"),
        Input("btn-zoom-out", "n_clicks"),
        Input("btn-layout", "n_clicks"),
        Input("btn-note", "n_clicks"),
        Input("btn-undo", "n_clicks"),
        Input("btn-redo", "n_clicks"),
        Input("btn-del", "n_clicks"),
        Input("btn-group", "n_clicks"),
        Input("btn-collapse", "n_clicks"),
        Input("btn-ungroup", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(n){ var S=window.SEER; S.setConnectMode(!S.connectMode);
        document.getElementById('btn-connect').classList.toggle('on', S.connectMode);
        return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input("btn-connect", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(loaded){ if (loaded && window.SEER) window.SEER.onLoaded(); return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input("loaded", "data"),
        prevent_initial_call=True,
    )
    # parameter edits go straight into the node's data in the browser
    app.clientside_callback(
        """function(values, labels, ports){
        var trig = window.dash_clientside.callback_context.triggered || [];
        trig.forEach(function(t){
          if (!t.prop_id || t.prop_id === '.') return;
          var idText = t.prop_id.slice(0, t.prop_id.lastIndexOf('.'));
          var id; try { id = JSON.parse(idText); } catch(e) { return; }
          var v = t.value;
          if (id.type === 'label') { window.SEER.setNodeData(id.node, {label: v || ''}); return; }
          if (id.type === 'edgeport') {
            if (id.end === 'source') window.SEER.setEdgePorts(id.edge, v, null); else window.SEER.setEdgePorts(id.edge, null, v);
            return; }
          var out;
          if (id.kind === 'bool') out = Array.isArray(v) && v.length > 0;
          else if (id.kind === 'number' || id.kind === 'int')
            out = (v === null || v === undefined || v === '') ? undefined : Number(v);
          else if (id.kind === 'list') out = (v && v.length) ? v : undefined;
          else if (id.kind === 'json') {
            if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) out = undefined;
            else { try { out = JSON.parse(v); } catch(e) { out = v; } }
          }
          else out = (v === null || v === undefined || v === '') ? undefined : v;
          window.SEER.setParam(id.node, id.name, out);
        });
        return window.dash_clientside.no_update; }""",
        Output("dummy", "data", allow_duplicate=True),
        Input({"type": "param", "node": ALL, "name": ALL, "kind": ALL}, "value"),
        Input({"type": "label", "node": ALL}, "value"),
        Input({"type": "edgeport", "edge": ALL, "end": ALL}, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(tables){
        var trig = window.dash_clientside.callback_context.triggered || [];
        trig.forEach(function(t){
          var id; try { id = JSON.parse(t.prop_id.slice(0, t.prop_id.lastIndexOf('.'))); } catch(e) { return; }
          var defs = window.SEER.rowsToFeatures(t.value);
          window.SEER.setParam(id.node, id.name, defs.length ? defs : undefined);
        });
        return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input({"type": "ftable", "node": ALL, "name": ALL}, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output({"type": "ftable", "node": MATCH, "name": MATCH}, "data"),
        Input({"type": "fadd", "node": MATCH, "name": MATCH}, "n_clicks"),
        State({"type": "ftable", "node": MATCH, "name": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def add_feature(n: int, rows: list | None) -> list:
        if not n:
            return no_update
        return [
            *(rows or []),
            {
                "kind": "discrete",
                "column": "",
                "with": "",
                "buckets": None,
                "transform": "",
                "name": "",
            },
        ]

    app.clientside_callback(
        """function(n, which){ var t = window.dash_clientside.callback_context.triggered[0];
        if (!t || !t.value) return window.dash_clientside.no_update;
        var id = JSON.parse(t.prop_id.slice(0, t.prop_id.lastIndexOf('.')));
        window.SEER.selectNode(id.node); return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input({"type": "problem", "node": ALL, "i": ALL}, "n_clicks"),
        State("page", "data"),
        prevent_initial_call=True,
    )
    # bottom panel tabs
    app.clientside_callback(
        """function(a,b,c){ var t = window.dash_clientside.callback_context.triggered[0];
        var which = t ? t.prop_id.split('.')[0] : 'bt-problems';
        var map = {'bt-problems':'problems','bt-log':'run-log','bt-output':'output'};
        Object.keys(map).forEach(function(k){
          document.getElementById(k).classList.toggle('active', k===which);
          document.getElementById(map[k]).classList.toggle('hidden', k!==which); });
        return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input("bt-problems", "n_clicks"),
        Input("bt-log", "n_clicks"),
        Input("bt-output", "n_clicks"),
        prevent_initial_call=True,
    )
    # page tabs
    app.clientside_callback(
        """function(){ var t = window.dash_clientside.callback_context.triggered[0];
        var which = t ? t.prop_id.split('.')[0].replace('page-','') : 'flow';
        ['flow','runs','models','users','audit'].forEach(function(p){
          document.getElementById('page-'+p).classList.toggle('active', p===which);
          document.getElementById(p+'-page').classList.toggle('hidden', p!==which); });
        // the canvas was not laid out while hidden
        if (which === 'flow' && window.SEER && window.SEER.getCy()) window.SEER.getCy().resize();
        return which; }""",
        Output("page", "data"),
        Input("page-flow", "n_clicks"),
        Input("page-runs", "n_clicks"),
        Input("page-models", "n_clicks"),
        Input("page-users", "n_clicks"),
        Input("page-audit", "n_clicks"),
        prevent_initial_call=True,
    )
    admin.register(app, ws)

    # -- validation, problems, dirty flag ---------------------------------------------------
    @app.callback(
        Output("problems", "children"),
        Output("problems-store", "data"),
        Output("dirty", "children"),
        Output("flow-name", "children"),
        Output("bt-problems", "children"),
        Input("doc", "data"),
        Input("meta", "data"),
        Input("run-done", "data"),  # a finished run adds the nodes that failed in it
    )
    def validate(doc: dict | None, meta: dict | None, _done: Any = None) -> tuple:
        meta = meta or _empty_meta()
        doc = doc or {"nodes": [], "links": []}
        flow = doc_to_flow(doc, meta, run_flow_path(ws, meta.get("file")))
        analysis = analyze(flow, roots)
        found = analysis.problems + latest_run_problems(ws.store, flow, roots)
        problems = [p.to_json() for p in found]
        if not doc.get("nodes"):
            items = [
                html.Div(
                    "The canvas is empty: drag an operator from the left, or Open a sample flow.",
                    className="muted",
                )
            ]
        elif not problems:
            items = [html.Div("✓ No problems: the flow is ready to run.", className="ok")]
        else:
            items = [
                html.Div(
                    [
                        html.Span(p["node"] or "flow", className="pnode"),
                        html.Span(("⚠ " if p["severity"] == "warning" else "") + p["message"]),
                    ],
                    className="problem",
                    id={"type": "problem", "node": p["node"] or "", "i": i},
                    n_clicks=0,
                )
                for i, p in enumerate(problems)
            ]
        dirty = "" if meta.get("saved") == saved_hash(flow) else "● unsaved"
        if not doc.get("nodes") and not meta.get("file"):
            dirty = ""
        label = f"Problems ({len(problems)})" if problems else "Problems"
        return (
            items,
            {"problems": problems, "columns": analysis.input_columns},
            dirty,
            meta.get("name") or "untitled",
            label,
        )

    @app.callback(
        Output("canvas", "stylesheet"),
        Input("problems-store", "data"),
        Input("run-state", "data"),
        State("doc", "data"),
        State("meta", "data"),
    )
    def stylesheet(
        problems: dict | None, state: dict | None, doc: dict | None, meta: dict | None
    ) -> list[dict[str, Any]]:
        sheet = list(BASE_STYLESHEET)
        labels = {n["id"]: n.get("label") or n["id"] for n in (doc or {}).get("nodes", [])}
        bad = {p["node"] for p in (problems or {}).get("problems", []) if p.get("node")}
        for nid in sorted(bad):
            sheet.append(
                {
                    "selector": f'node[id = "{nid}"]',
                    "style": {
                        "border-color": "#dc2626",
                        "border-style": "dashed",
                        "border-width": 3,
                    },
                }
            )
        final = (state or {}).get("status") not in (None, "running")
        stale = identity.stale_nodes(ws, doc, meta, state.get("run_id"), roots) if final else set()
        for nid, n in ((state or {}).get("nodes") or {}).items():
            if nid not in labels:
                continue
            style = dict(STATUS_STYLE.get(n["status"], {}))
            secs = f"{n['seconds']:.1f} s" if n.get("seconds") is not None else ""
            style["label"] = f"{STATUS_ICON.get(n['status'], '')} {labels[nid]}" + (
                f"\n{secs}" if secs else ""
            )
            if nid in stale:  # the canvas changed since: its output is not current
                style.update(identity.STALE_STYLE)
                style["label"] = f"⚠ {labels[nid]}\nout of date"
            sheet.append({"selector": f'node[id = "{nid}"]', "style": style})
        return sheet

    # -- inspector ----------------------------------------------------------------------------
    @app.callback(
        Output("inspector", "children"),
        Input("selection", "data"),
        State("doc", "data"),
        State("problems-store", "data"),
        State("meta", "data"),
    )
    def inspector(sel: dict | None, doc: dict | None, probs: dict | None, meta: dict | None) -> Any:
        doc = doc or {"nodes": [], "links": []}
        cat = catalog()
        if not sel or not sel.get("id"):
            return _flow_info(doc, meta or _empty_meta())
        if sel.get("kind") == "group":
            group = next((g for g in doc.get("groups", []) if g["id"] == sel["id"]), None)
            if group is None:
                return html.Div("Select a node to edit its parameters.", className="muted")
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
        if sel.get("kind") == "edge":
            edge = next((lk for lk in doc.get("links", []) if _edge_id(lk) == sel["id"]), None)
            if edge is None:
                return html.Div("Select a node to edit its parameters.", className="muted")
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
                    dcc.Dropdown(
                        id={"type": "edgeport", "edge": sel["id"], "end": "source"},
                        options=[
                            {"label": f"{p['name']} ({p['type']})", "value": p["name"]}
                            for p in so["outputs"]
                        ],
                        value=edge["sourcePort"],
                        clearable=False,
                    ),
                    html.Label("To input", className="plabel"),
                    dcc.Dropdown(
                        id={"type": "edgeport", "edge": sel["id"], "end": "target"},
                        options=[
                            {"label": f"{p['name']} ({p['type']})", "value": p["name"]}
                            for p in do["inputs"]
                        ],
                        value=edge["targetPort"],
                        clearable=False,
                    ),
                    html.Div("Delete or Backspace removes the link.", className="help"),
                ]
            )
        node = next((n for n in doc.get("nodes", []) if n["id"] == sel["id"]), None)
        if node is None:
            return html.Div("Select a node to edit its parameters.", className="muted")
        spec = cat.get(node["op"])
        if spec is None:
            return html.Div(f'Unknown operator "{node["op"]}".', className="error")
        # columns from the document as it is now (the problems store may lag one edit behind)
        meta = meta or _empty_meta()
        analysis = analyze(doc_to_flow(doc, meta, run_flow_path(ws, meta.get("file"))), roots)
        columns_by_port = analysis.input_columns.get(node["id"], {})
        first_table = next((p["name"] for p in spec["inputs"] if p["type"] == "table"), None)
        columns = columns_by_port.get(first_table, []) if first_table else []
        fields = [
            param_field(node["id"], p, (node.get("params") or {}).get(p["name"]), columns)
            for p in spec["params"]
        ]
        ports = html.Div(
            [
                html.Div(
                    "in: "
                    + (
                        ", ".join(
                            f"{p['name']} ({p['type']}{', optional' if p['optional'] else ''})"
                            for p in spec["inputs"]
                        )
                        or "—"
                    )
                ),
                html.Div(
                    "out: "
                    + (", ".join(f"{p['name']} ({p['type']})" for p in spec["outputs"]) or "—")
                ),
            ],
            className="ports",
        )
        return html.Div(
            [
                html.Div(spec["category"], className="badge", style={"background": spec["colour"]}),
                html.H3(spec["title"] or spec["id"]),
                html.Div(
                    [html.Code(spec["id"]), f"  ·  node id: {node['id']}"], className="muted small"
                ),
                html.Div(spec["description"], className="help"),
                ports,
                html.Label("Label", className="plabel"),
                dcc.Input(
                    id={"type": "label", "node": node["id"]},
                    value=node.get("label") or "",
                    type="text",
                    debounce=True,
                    className="field",
                ),
                html.Hr(),
                *fields,
            ],
            className="node-form",
        )

    @app.callback(
        Output("inspector-messages", "children"),
        Input("selection", "data"),
        Input("problems-store", "data"),
        Input("run-state", "data"),
    )
    def inspector_messages(sel: dict | None, probs: dict | None, state: dict | None) -> Any:
        if not sel or sel.get("kind") != "node":
            return None
        out: list[Any] = []
        for p in (probs or {}).get("problems", []):
            if p.get("node") == sel["id"]:
                out.append(html.Div(p["message"], className="inline-error"))
        n = ((state or {}).get("nodes") or {}).get(sel["id"])
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

    # -- files: new / open / save / rename / duplicate / delete / import / export -------------
    @app.callback(
        Output("modal", "className"),
        Output("modal-title", "children"),
        Output("modal-body", "children"),
        Output("modal-input", "value"),
        Output("modal-input", "style"),
        Output("modal-state", "data"),
        Output("modal-error", "children"),
        Input("go-open", "data"),
        Input("btn-saveas", "n_clicks"),
        Input("btn-rename", "n_clicks"),
        Input("btn-delete", "n_clicks"),
        Input("modal-cancel", "n_clicks"),
        Input("btn-save", "n_clicks"),
        Input({"type": "browse", "node": ALL, "name": ALL}, "n_clicks"),
        Input({"type": "publish", "node": ALL}, "n_clicks"),
        State("meta", "data"),
        prevent_initial_call=True,
    )
    def open_modal(*args: Any) -> tuple:
        meta = args[-1] or _empty_meta()
        trig = ctx.triggered_id
        hide = ("modal hidden", no_update, no_update, no_update, no_update, None, "")
        if trig == "modal-cancel":
            return hide
        if isinstance(trig, dict) and not (ctx.triggered and ctx.triggered[0]["value"]):
            return (no_update,) * 7
        show = "modal"
        if trig == "btn-save":  # a first save asks for the flow's name
            if meta.get("file"):
                return (no_update,) * 7
            return (
                show,
                "Name the flow to save it",
                html.Div("Flow name (letters, digits, spaces, . _ -)", className="muted"),
                "" if (meta.get("name") or "untitled") == "untitled" else meta["name"],
                {},
                {"action": "saveas"},
                "",
            )
        if trig == "go-open":
            if not args[0]:  # the store's first value, not a click let through
                return (no_update,) * 7
            body = [
                html.Div("Your flows", className="group-title"),
                *(
                    [
                        html.Div(
                            [
                                html.Span(f["name"], className="fname"),
                                html.Span(
                                    time.strftime("%Y-%m-%d %H:%M", time.localtime(f["modified"])),
                                    className="muted small",
                                ),
                            ],
                            id={"type": "open-flow", "name": f["name"]},
                            className="list-item",
                            n_clicks=0,
                        )
                        for f in flows.list()
                    ]
                    or [html.Div("No saved flows yet.", className="muted")]
                ),
                html.Div("Sample flows", className="group-title"),
                *[
                    html.Div(
                        [
                            html.Span(s["name"], className="fname"),
                            html.Div(s["description"][:160], className="muted small"),
                        ],
                        id={"type": "open-sample", "name": s["name"]},
                        className="list-item",
                        n_clicks=0,
                    )
                    for s in sample_flows()
                ],
            ]
            return show, "Open a flow", body, "", {"display": "none"}, {"action": "open"}, ""
        if trig in ("btn-saveas", "btn-rename"):
            action = "saveas" if trig == "btn-saveas" else "rename"
            if action == "rename" and not meta.get("file"):
                action = "saveas"
            title = "Save the flow as" if action == "saveas" else "Rename the flow"
            return (
                show,
                title,
                html.Div("Flow name (letters, digits, spaces, . _ -)", className="muted"),
                meta.get("name") or "",
                {},
                {"action": action},
                "",
            )
        if trig == "btn-delete":
            if not meta.get("file"):
                return (
                    show,
                    "Nothing to delete",
                    html.Div("This flow has not been saved."),
                    "",
                    {"display": "none"},
                    {"action": "none"},
                    "",
                )
            body = html.Div(
                [
                    f'Delete the flow file "{meta["file"]}"? ',
                    html.B("This cannot be undone."),
                    " Runs and models stay.",
                ]
            )
            return show, "Delete flow", body, "", {"display": "none"}, {"action": "delete"}, ""
        if isinstance(trig, dict) and trig.get("type") == "browse":
            return (
                show,
                "Choose a file",
                _browser(ws, roots, str(ws.flows_dir / "data")),
                "",
                {"display": "none"},
                {"action": "browse", "node": trig["node"], "name": trig["name"]},
                "",
            )
        if isinstance(trig, dict) and trig.get("type") == "publish":
            return (
                show,
                "Publish the model",
                html.Div("Model name in the registry (letters, digits, _ - .)", className="muted"),
                trig["node"].replace("_", "-"),
                {},
                {"action": "publish", "node": trig["node"]},
                "",
            )
        return hide

    @app.callback(
        Output("canvas", "elements"),
        Output("meta", "data"),
        Output("loaded", "data"),
        Output("modal", "className", allow_duplicate=True),
        Output("modal-error", "children", allow_duplicate=True),
        Output("download", "data"),
        Output("toast-msg", "data"),
        Input("go-new", "data"),
        Input("btn-save", "n_clicks"),
        Input("btn-duplicate", "n_clicks"),
        Input("btn-export", "n_clicks"),
        Input("modal-ok", "n_clicks"),
        Input({"type": "open-flow", "name": ALL}, "n_clicks"),
        Input({"type": "open-sample", "name": ALL}, "n_clicks"),
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        Input("go-import", "data"),
        Input("url", "pathname"),
        State("upload-flow", "contents"),
        State("upload-flow", "filename"),
        State("doc", "data"),
        State("meta", "data"),
        State("modal-state", "data"),
        State("modal-input", "value"),
        State("run-id", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def files(*args: Any) -> tuple:
        upload, filename, doc, meta, mstate, mvalue, run_id = args[-7:]
        meta = meta or _empty_meta()
        trig = ctx.triggered_id
        nothing = (no_update,) * 7
        if isinstance(trig, dict) and not (ctx.triggered and ctx.triggered[0]["value"]):
            return nothing
        if "url.pathname" in ctx.triggered_prop_ids:  # page load (the stores report too)
            trig = "url"
        elif trig in ("go-new", "go-import") and not ctx.triggered[0]["value"]:
            return nothing  # the store's first value, not a click let through

        def loaded(flow: Any, file: str | None, saved: bool, fresh: bool = False) -> tuple:
            flow.id = identity.with_id({"id": flow.id}, fresh)["id"]
            m = {
                **flow_meta(flow),
                "file": file,
                "saved": saved_hash(flow) if saved else None,
                "disk": conflicts.fingerprint(flows.path(file)) if file else None,
            }
            return flow_to_elements(flow), m, time.time(), "modal hidden", "", no_update, no_update

        def saved(flow: Any, name: str, msg: str, hide_modal: bool) -> tuple:
            m = {
                **meta,
                "id": flow.id,
                "name": name,
                "file": name,
                "saved": saved_hash(flow),
                "disk": conflicts.fingerprint(flows.path(name)),
            }
            toast = {"msg": msg, "kind": "info", "ts": time.time()}
            return (
                no_update,
                m,
                no_update,
                "modal hidden" if hide_modal else no_update,
                "",
                no_update,
                toast,
            )

        def current(name: str | None = None, file: str | None = None) -> Any:
            m = identity.with_id(meta)
            if name:
                m["name"] = name
            return doc_to_flow(
                doc or {"nodes": [], "links": []}, m, run_flow_path(ws, file or m.get("file"))
            )

        audited: str | None = None  # the flow file action under way, for the audit log
        try:
            if trig == "url":  # page load: bring back what this browser tab had on its canvas
                if doc and (doc.get("nodes") or doc.get("notes")):  # edits, saved or not
                    flow = current()
                    return (
                        flow_to_elements(flow),
                        identity.with_id(meta),
                        time.time(),
                        no_update,
                        "",
                        no_update,
                        no_update,
                    )
                if meta.get("file") and meta.get("saved") and flows.path(meta["file"]).exists():
                    return loaded(flows.load(meta["file"]), meta["file"], True)
                if not meta.get("id"):  # a new tab's empty canvas is a new flow
                    return (no_update, identity.with_id(meta)) + nothing[2:]
                return nothing
            if trig == "go-new":  # (dialogs.py asked first when there were unsaved changes)
                new = identity.with_id(_empty_meta())
                return [], new, time.time(), no_update, "", no_update, no_update
            if trig == "btn-save":
                auth.require(ws, "save", audited := "flow.save")
                if not meta.get("file"):  # open_modal asks for the name first
                    return nothing
                else:
                    name = meta["file"]
                    if conflicts.changed_on_disk(flows, meta):  # another tab or user saved it
                        conflicts.announce(name)
                        auth.audit(ws, audited, "failed", flow=name, detail="changed on disk")
                        return nothing
                    flow = current(file=name)
                flows.save(flow, name)
                auth.audit(ws, audited, flow=name)
                return saved(flow, name, f'Saved "{name}".', hide_modal=False)
            if trig == "btn-duplicate":
                auth.require(ws, "save", audited := "flow.duplicate")
                base = meta.get("file") or meta.get("name") or "untitled"
                name = flows.unused_name(f"{base} copy")
                flow = current(name, name)
                flow.id = identity.new_flow_id()  # a copy is another flow
                flows.save(flow, name)
                auth.audit(ws, audited, flow=name, detail=f"copy of {base}")
                return loaded(flow, name, True)
            if trig == "btn-export":
                flow = current()
                fname = f"{meta.get('file') or meta.get('name') or 'flow'}.flow.json"
                return nothing[:5] + (dict(content=flow_text(flow), filename=fname), no_update)
            if trig == "go-import":
                if not upload:
                    return nothing
                raw = base64.b64decode(upload.split(",", 1)[1]).decode("utf-8", errors="replace")
                try:
                    flow = parse_upload(raw, filename or "")
                except FlowError as exc:
                    msg = "; ".join(p.message for p in exc.problems[:3])
                    return nothing[:6] + (
                        {
                            "msg": f"Cannot import {filename}: {msg}",
                            "kind": "error",
                            "ts": time.time(),
                        },
                    )
                return loaded(flow, None, False, fresh=True)  # an import is a copy
            if isinstance(trig, dict) and trig.get("type") == "open-flow":
                return loaded(flows.load(trig["name"]), trig["name"], True)
            if isinstance(trig, dict) and trig.get("type") == "open-sample":
                flow = load_sample(trig["name"], ws.flows_dir / "data")
                return loaded(flow, None, False, fresh=True)
            if isinstance(trig, dict) and trig.get("type") == "open-run":
                run = ws.store.get_run(trig["run"])
                if not run:
                    return nothing
                from engine.flow import parse_flow

                flow = parse_flow(run["flow_json"])
                return loaded(flow, None, False)
            if trig == "modal-ok":
                action = (mstate or {}).get("action")
                if action in ("saveas", "rename", "delete"):
                    auth.require(ws, "save", audited := f"flow.{action}")
                if action == "saveas":
                    from studio.model import check_flow_name

                    name = check_flow_name(mvalue or "")
                    if flows.path(name).exists() and name != meta.get("file"):
                        return (
                            nothing[:4]
                            + (f'A flow named "{name}" exists; choose another name.',)
                            + nothing[5:]
                        )
                    flow = current(name, name)
                    if meta.get("file"):  # a copy under another name (a first save is not)
                        flow.id = identity.new_flow_id()
                    flows.save(flow, name)
                    auth.audit(ws, "flow.saveas", flow=name, detail=f"from {meta.get('file')}")
                    return saved(flow, name, f'Saved as "{name}".', hide_modal=True)
                if action == "rename":
                    from studio.model import check_flow_name

                    name = check_flow_name(mvalue or "")
                    flows.rename(meta["file"], name)
                    flow = current(name, name)
                    flows.save(flow, name)
                    auth.audit(ws, "flow.rename", flow=name, detail=f"from {meta['file']}")
                    return saved(flow, name, f'Renamed to "{name}".', hide_modal=True)
                if action == "delete":
                    flows.delete(meta["file"])
                    auth.audit(ws, "flow.delete", flow=meta["file"])
                    m = {**meta, "file": None, "saved": None}
                    return (
                        no_update,
                        m,
                        no_update,
                        "modal hidden",
                        "",
                        no_update,
                        {
                            "msg": "Flow file deleted; the canvas keeps it until you leave.",
                            "kind": "info",
                            "ts": time.time(),
                        },
                    )
                if action == "publish":  # the publish callback answers (and keeps errors shown)
                    return nothing
                return nothing[:3] + ("modal hidden",) + nothing[4:]
        except (FlowStoreError, FlowError, OSError) as exc:
            msg = (
                str(exc)
                if not isinstance(exc, FlowError)
                else "; ".join(p.message for p in exc.problems[:3])
            )
            if audited:
                auth.audit(ws, audited, "failed", flow=meta.get("file"), detail=msg)
            if trig == "modal-ok":
                return nothing[:4] + (msg,) + nothing[5:]
            return nothing[:6] + ({"msg": msg, "kind": "error", "ts": time.time()},)
        return nothing

    app.layout.children.append(dcc.Store(id="toast-msg"))
    conflicts.register(app, ws, flows)
    app.layout.children.extend(dialogs.layout())
    dialogs.register(app, ws, flows)
    app.clientside_callback(
        """function(m){ if (m && m.msg && window.SEER) window.SEER.toast(m.msg, m.kind);
        return window.dash_clientside.no_update; }""",
        Output("dummy", "data", allow_duplicate=True),
        Input("toast-msg", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("uploaded", "data"),
        Output("toast-msg", "data", allow_duplicate=True),
        Input("upload-data", "contents"),
        State("upload-data", "filename"),
        prevent_initial_call=True,
    )
    def upload_data(contents: str | None, filename: str | None) -> tuple:
        """A data file from the browser, written atomically into the workspace's flows/data/."""
        if not contents or not filename:
            return no_update, no_update
        auth.require(ws, "upload", "data.upload")
        from engine.atomic import atomic_write_bytes

        name = Path(filename).name
        if Path(name).suffix.lower() not in (".csv", ".tsv", ".txt", ".parquet"):
            auth.audit(ws, "data.upload", "failed", detail=f"{name}: not CSV or Parquet")
            return no_update, {
                "msg": f'"{name}" is not a CSV or Parquet file.',
                "kind": "error",
                "ts": time.time(),
            }
        target = ws.flows_dir / "data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, base64.b64decode(contents.split(",", 1)[1]))
        auth.audit(ws, "data.upload", detail=f"data/{name}")
        op = "import.parquet" if name.lower().endswith(".parquet") else "import.csv"
        msg = f"Uploaded {name} to {target.parent}; an import node reads it."
        return {"op": op, "path": f"data/{name}", "ts": time.time()}, {
            "msg": msg,
            "kind": "info",
            "ts": time.time(),
        }

    app.layout.children.append(dcc.Store(id="uploaded"))
    app.clientside_callback(
        """function(u){ if (!u) return window.dash_clientside.no_update;
        var cy = window.SEER.getCy(); var ext = cy.extent();
        var id = window.SEER.addNode(u.op, ext.x1 + 120, ext.y1 + 80);
        if (id) window.SEER.setParam(id, 'path', u.path);
        return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input("uploaded", "data"),
        prevent_initial_call=True,
    )

    # file picker for path params: lists folders under the workspace and the flows' data folder
    @app.callback(
        Output("modal-body", "children", allow_duplicate=True),
        Input({"type": "browse-dir", "path": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def browse_dir(_: Any) -> Any:
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update
        auth.require(ws, "edit", "files.browse")
        return _browser(ws, roots, trig["path"])

    @app.callback(
        Output("modal", "className", allow_duplicate=True),
        Output("toast-msg", "data", allow_duplicate=True),
        Output("browse-target", "data"),
        Input({"type": "browse-file", "path": ALL}, "n_clicks"),
        State("modal-state", "data"),
        prevent_initial_call=True,
    )
    def browse_pick(_: Any, mstate: dict | None) -> tuple:
        trig = ctx.triggered_id
        if (
            not isinstance(trig, dict)
            or not (ctx.triggered and ctx.triggered[0]["value"])
            or not mstate
        ):
            return no_update, no_update, no_update
        if not roots.contains(str(trig["path"])):  # the id came from the browser: check it
            sentence = roots.problem(str(trig["path"]), "The picked file")
            return no_update, {"msg": sentence, "kind": "error", "ts": time.time()}, no_update
        return (
            "modal hidden",
            {"msg": f"Picked {trig['path']}", "kind": "info", "ts": time.time()},
            {
                "node": mstate["node"],
                "name": mstate["name"],
                "path": trig["path"],
                "ts": time.time(),
            },
        )

    app.clientside_callback(
        """function(t){ if (!t) return window.dash_clientside.no_update;
        window.SEER.setParam(t.node, t.name, t.path);
        var el = document.querySelector('#param-' + t.node + '-' + t.name + ' input');
        if (el) { var setter = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, 'value').set;
          setter.call(el, t.path); el.dispatchEvent(new Event('input', {bubbles: true})); }
        return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input("browse-target", "data"),
        prevent_initial_call=True,
    )

    # -- runs -----------------------------------------------------------------------------
    @app.callback(
        Output("run-id", "data"),
        Output("poll", "disabled"),
        Output("toast-msg", "data", allow_duplicate=True),
        Input("btn-run", "n_clicks"),
        Input("btn-run-to", "n_clicks"),
        Input("btn-rerun", "n_clicks"),
        Input("btn-stop", "n_clicks"),
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        State("doc", "data"),
        State("meta", "data"),
        State("selection", "data"),
        State("run-id", "data"),
        prevent_initial_call=True,
    )
    def run_control(*args: Any) -> tuple:
        doc, meta, sel, run_id = args[-4:]
        trig = ctx.triggered_id
        if isinstance(trig, dict):
            if not (ctx.triggered and ctx.triggered[0]["value"]):
                return no_update, no_update, no_update
            return trig["run"], False, no_update
        auth.require(ws, "run", "run.cancel" if trig == "btn-stop" else "run.start")
        if trig == "btn-stop":
            if run_id and runs.cancel(run_id):
                auth.audit(ws, "run.cancel", flow=(meta or {}).get("name"), run_id=run_id)
                return (
                    no_update,
                    False,
                    {"msg": "Stopping the run…", "kind": "info", "ts": time.time()},
                )
            return (
                no_update,
                no_update,
                {"msg": "No run is in progress.", "kind": "info", "ts": time.time()},
            )
        if run_id and runs.active(run_id):
            return (
                no_update,
                no_update,
                {"msg": "A run is in progress; Stop it first.", "kind": "error", "ts": time.time()},
            )
        meta = meta or _empty_meta()
        node = sel.get("id") if sel and sel.get("kind") == "node" else None
        if trig in ("btn-run-to", "btn-rerun") and not node:
            return (
                no_update,
                no_update,
                {"msg": "Select a node first.", "kind": "error", "ts": time.time()},
            )
        flow = doc_to_flow(
            doc or {"nodes": [], "links": []}, meta, run_flow_path(ws, meta.get("file"))
        )
        if not flow.nodes:
            return (
                no_update,
                no_update,
                {
                    "msg": "The canvas is empty: add operators first.",
                    "kind": "error",
                    "ts": time.time(),
                },
            )
        try:
            rid = runs.start(
                flow,
                to_node=node if trig in ("btn-run-to", "btn-rerun") else None,
                force={node} if trig == "btn-rerun" and node else None,
            )
        except FlowError as exc:
            n = len(exc.problems)
            auth.audit(ws, "run.start", "failed", flow=flow.name, detail=f"{n} problem(s)")
            return (
                no_update,
                no_update,
                {
                    "msg": f"The flow has {n} problem{'s' if n != 1 else ''}; see the Problems panel.",
                    "kind": "error",
                    "ts": time.time(),
                },
            )
        auth.audit(ws, "run.start", flow=flow.name, run_id=rid)
        return rid, False, no_update

    @app.callback(
        Output("run-state", "data"),
        Output("poll", "disabled", allow_duplicate=True),
        Output("run-log", "children"),
        Output("run-status", "children"),
        Output("run-done", "data"),
        Input("poll", "n_intervals"),
        Input("run-id", "data"),
        Input("meta", "data"),
        State("run-done", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def poll(_: Any, run_id: str | None, meta: dict | None, done: Any) -> tuple:
        run_id = identity.shown_run(ws, run_id, (meta or {}).get("id"))  # never another flow's
        if not run_id:
            return None, True, html.Div("No run yet.", className="muted"), "", no_update
        st = runs.status(run_id)
        if st is None:
            return None, True, html.Div("No run yet.", className="muted"), "", no_update
        final = st["status"] != "running"
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
        elapsed = (st.get("finished_at") or time.time()) - st["started_at"]
        counts: dict[str, int] = {}
        for n in st["nodes"].values():
            counts[n["status"]] = counts.get(n["status"], 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        status = html.Span(
            [
                html.Span(f"{st['status']}", className=f"pill s-{st['status']}"),
                f" {elapsed:.1f} s · {summary} · run {run_id}",
            ]
        )
        done_token = f"{run_id}:{st['status']}" if final else None
        return (
            st,
            final,
            lines or html.Div("Starting…", className="muted"),
            status,
            done_token if done_token != done else no_update,
        )

    # -- output panel -------------------------------------------------------------------------
    @app.callback(
        Output("output", "children"),
        Input("selection", "data"),
        Input("run-done", "data"),
        Input({"type": "port-tab", "port": ALL}, "n_clicks"),
        State("run-id", "data"),
        State("doc", "data"),
        State("meta", "data"),
    )
    def output(
        sel: dict | None,
        _done: Any,
        _tabs: Any,
        run_id: str | None,
        doc: dict | None,
        meta: dict | None,
    ) -> Any:
        port = None
        trig = ctx.triggered_id
        if isinstance(trig, dict) and trig.get("type") == "port-tab":
            port = trig["port"]
        if not sel or sel.get("kind") != "node":
            return html.Div(
                "Select a node to see its outputs from the latest run.", className="muted"
            )
        nid = sel["id"]
        found = identity.canvas_result(ws, doc, meta, nid, run_id, roots)
        return admin.guard(_outputs_view(ws, found, nid, port))

    @app.callback(
        Output({"type": "cm", "node": ALL}, "children"),
        Input({"type": "threshold", "node": ALL}, "value"),
        State("run-id", "data"),
        State("doc", "data"),
        State("meta", "data"),
        prevent_initial_call=True,
    )
    def threshold(values: list, run_id: str | None, doc: dict | None, meta: dict | None) -> list:
        out = []
        for t, idx in zip(values, ctx.inputs_list[0], strict=False):
            nid = idx["id"]["node"]
            reports = _reports(identity.canvas_result(ws, doc, meta, nid, run_id, roots))
            out.append(_confusion(reports, float(t or 0.5)) if reports else None)
        return out

    # -- publish --------------------------------------------------------------------------
    @app.callback(
        Output("modal", "className", allow_duplicate=True),
        Output("modal-error", "children", allow_duplicate=True),
        Output("toast-msg", "data", allow_duplicate=True),
        Output("publish-target", "data"),
        Input("modal-ok", "n_clicks"),
        State("modal-state", "data"),
        State("modal-input", "value"),
        State("run-id", "data"),
        State("meta", "data"),
        State("doc", "data"),
        prevent_initial_call=True,
    )
    def publish(
        _: Any,
        mstate: dict | None,
        name: str | None,
        run_id: str | None,
        meta: dict | None,
        doc: dict | None,
    ) -> tuple:
        if not mstate or mstate.get("action") != "publish":
            return no_update, no_update, no_update, no_update
        auth.require(ws, "publish", "model.publish")
        from engine.model_registry import ModelRegistry, RegistryError

        nid = mstate["node"]
        found = identity.canvas_result(ws, doc, meta, nid, run_id, roots)
        model = found.outputs.get("model") if found and found.current else None
        if not model:
            why = "up-to-date " if found else ""
            return (
                no_update,
                f'Node "{nid}" of this flow has no {why}trained model yet: run the flow first.',
                no_update,
                no_update,
            )
        try:
            version = ModelRegistry(ws).publish(
                model["path"],
                (name or "").strip(),
                flow_name=(meta or {}).get("name"),
                run_id=found.run_id,
                node_id=nid,
            )
        except (RegistryError, OSError) as exc:
            auth.audit(ws, "model.publish", "failed", model=name, detail=str(exc))
            return no_update, str(exc), no_update, no_update
        auth.audit(
            ws,
            "model.publish",
            model=name,
            version=version,
            run_id=found.run_id,
            detail=f"node {nid}",
        )
        scoring.ensure_started()
        msg = f'Published "{name}" version {version}. The Models page shows its endpoint.'
        return (
            "modal hidden",
            "",
            {"msg": msg, "kind": "info", "ts": time.time()},
            {"name": name, "version": version, "ts": time.time()},
        )

    # -- runs page ------------------------------------------------------------------------
    @app.callback(Output("runs-page", "children"), Input("page", "data"), Input("run-done", "data"))
    def runs_page(page: str | None, _: Any) -> Any:
        if page != "runs":
            return no_update
        rows = []
        for r in ws.store.list_runs(limit=100):
            dur = (r["finished_at"] - r["started_at"]) if r.get("finished_at") else None
            metrics = {}
            for n in ws.store.node_runs(r["run_id"]):
                if n.get("metrics") and isinstance(n["metrics"], dict) and "auc" in n["metrics"]:
                    metrics[n["node_id"]] = n["metrics"]["auc"]
            rows.append(
                html.Tr(
                    [
                        html.Td(html.Span(r["status"], className=f"pill s-{r['status']}")),
                        html.Td(r["flow_name"]),
                        html.Td(
                            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started_at"]))
                        ),
                        html.Td("" if dur is None else f"{dur:.1f} s"),
                        html.Td(", ".join(f"{k}: AUC {v:.4f}" for k, v in metrics.items())),
                        html.Td(r["run_id"], className="mono small"),
                        html.Td(
                            html.Button(
                                "Open",
                                id={"type": "open-run", "run": r["run_id"]},
                                n_clicks=0,
                                className="btn small",
                            )
                        ),
                    ]
                )
            )
        head = html.Tr(
            [html.Th(h) for h in ("status", "flow", "started", "duration", "metrics", "run", "")]
        )
        return html.Div(
            [
                html.H2("Runs"),
                html.Div(
                    "Open a run to load its flow on the canvas with that run's statuses and outputs.",
                    className="muted",
                ),
                html.Table([html.Thead(head), html.Tbody(rows)], className="grid")
                if rows
                else html.Div("No runs yet.", className="muted"),
            ]
        )

    app.clientside_callback(
        """function(n){ var t = window.dash_clientside.callback_context.triggered[0];
        if (!t || !t.value) return window.dash_clientside.no_update;
        document.getElementById('page-flow').click(); return window.dash_clientside.no_update; }""",
        Output("dummy2", "data", allow_duplicate=True),
        Input({"type": "open-run", "run": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    # -- models page ----------------------------------------------------------------------
    @app.callback(
        Output("models-page", "children"),
        Input("page", "data"),
        Input("publish-target", "data"),
        Input("models-action", "data"),
    )
    def models_page(page: str | None, _p: Any, _a: Any) -> Any:
        if page != "models":
            return no_update
        return admin.guard(_models_view(ws, scoring))

    app.layout.children.append(dcc.Store(id="models-action"))

    @app.callback(
        Output("models-action", "data"),
        Output("toast-msg", "data", allow_duplicate=True),
        Input({"type": "model-act", "name": ALL, "version": ALL, "act": ALL}, "n_clicks"),
        State({"type": "canary-pct", "name": ALL}, "value"),
        State({"type": "canary-pct", "name": ALL}, "id"),
        prevent_initial_call=True,
    )
    def model_action(_: Any, pcts: list, pct_ids: list) -> tuple:
        from engine.model_registry import ModelRegistry, RegistryError

        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        reg = ModelRegistry(ws)
        name, act = trig["name"], trig["act"]
        auth.require(
            ws, act if act in ("promote", "rollback", "canary") else "admin-only", f"model.{act}"
        )
        detail, version = None, None
        try:
            version = int(trig["version"])
            if act == "promote":
                reg.promote(name, version)
                msg = f"{name} v{version} is now in production."
            elif act == "rollback":
                v = version = reg.rollback(name)
                msg = f"{name} rolled back to v{v}."
            elif act == "canary":
                pct = (
                    next((p for p, i in zip(pcts, pct_ids, strict=False) if i["name"] == name), 10)
                    or 10
                )
                reg.canary(name, version, float(pct))
                detail = f"{float(pct):g}%"
                msg = f"{name} v{version} gets {float(pct):g}% of requests."
            else:
                return no_update, no_update
        except (RegistryError, ValueError) as exc:
            auth.audit(ws, f"model.{act}", "failed", model=name, version=version, detail=str(exc))
            return no_update, {"msg": str(exc), "kind": "error", "ts": time.time()}
        auth.audit(ws, f"model.{act}", model=name, version=version, detail=detail)
        return time.time(), {"msg": msg, "kind": "info", "ts": time.time()}

    @app.callback(
        Output({"type": "try-result", "name": ALL}, "children"),
        Input({"type": "try-go", "name": ALL}, "n_clicks"),
        State({"type": "try-field", "name": ALL, "col": ALL, "kind": ALL}, "value"),
        State({"type": "try-field", "name": ALL, "col": ALL, "kind": ALL}, "id"),
        State({"type": "try-go", "name": ALL}, "id"),
        prevent_initial_call=True,
    )
    def try_it(_: Any, values: list, ids: list, go_ids: list) -> list:
        trig = ctx.triggered_id
        out: list[Any] = [no_update] * len(go_ids)
        if not isinstance(trig, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return out
        name = trig["name"]
        record: dict[str, Any] = {}
        for v, i in zip(values, ids, strict=False):
            if i["name"] != name:
                continue
            if v is None or v == "":
                record[i["col"]] = None
            elif i["kind"] == "number":
                try:
                    record[i["col"]] = (
                        float(v) if "." in str(v) or "e" in str(v).lower() else int(v)
                    )
                except ValueError:
                    record[i["col"]] = v
            elif i["kind"] == "bool":
                record[i["col"]] = str(v).lower() in ("true", "1", "yes")
            else:
                record[i["col"]] = v
        idx = next(k for k, g in enumerate(go_ids) if g["name"] == name)
        out[idx] = scoring.try_predict(name, record)
        return out

    return app


# -- helpers used by the callbacks ------------------------------------------------------------
def _edge_id(lk: dict[str, Any]) -> str:
    return f"{lk['source']}.{lk['sourcePort']}->{lk['target']}.{lk['targetPort']}"


def _flow_info(doc: dict[str, Any], meta: dict[str, Any]) -> Any:
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
            html.Div(
                "Shortcuts: Delete removes the selection · Ctrl+Z / Ctrl+Shift+Z undo and redo · "
                "Ctrl+C / Ctrl+V copy and paste · Shift+drag from one node to another links them.",
                className="help",
            ),
        ]
    )


def _browser(ws: Workspace, roots: DataRoots, where: str) -> Any:
    """A file picker limited to the data roots: "" lists the roots themselves."""
    base = Path(where).resolve() if where else None
    if base is not None and (not roots.contains(base) or not base.is_dir()):
        base = None
    items: list[Any] = []

    def folder(p: Path, label: str) -> Any:
        return html.Div(
            label, id={"type": "browse-dir", "path": str(p)}, className="list-item", n_clicks=0
        )

    if base is None:
        for root in roots.local:
            inside_another = any(Path(o) in Path(root).parents for o in roots.local)
            if Path(root).is_dir() and not inside_another:
                items.append(folder(Path(root), f"📁 {root}"))
    else:
        parent = base.parent
        items.append(folder(parent, "⬑ ..") if roots.contains(parent) else _root_list_item())
        try:
            entries = sorted(base.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))[:300]
        except OSError:
            entries = []
        internal = {ws.runs_dir, ws.root / "tmp", ws.logs_dir, ws.models_dir}
        for p in entries:
            if p.name.startswith(".") or p in internal or p.suffix == ".db-wal":
                continue
            if not roots.contains(p):  # a link that leads outside the roots
                continue
            if p.is_dir():
                items.append(folder(p, f"📁 {p.name}"))
            elif p.suffix.lower() in (".csv", ".parquet", ".json", ".db", ".txt", ".tsv"):
                items.append(
                    html.Div(
                        f"📄 {p.name}",
                        id={"type": "browse-file", "path": str(p)},
                        className="list-item",
                        n_clicks=0,
                    )
                )
    return html.Div(
        [
            html.Div(
                f"{base}" if base else "Data folders (add one with seer studio --data-root DIR)",
                className="mono small muted",
            ),
            html.Div(
                items
                or [
                    html.Div(
                        "Nothing here. Upload a CSV with the palette's Upload button.",
                        className="muted",
                    )
                ],
                className="browser",
            ),
        ]
    )


def _root_list_item() -> Any:
    return html.Div(
        "⬑ data folders",
        id={"type": "browse-dir", "path": ""},
        className="list-item",
        n_clicks=0,
    )


def _reports(found: identity.NodeResult | None) -> dict[str, Any] | None:
    if not found:
        return None
    m = found.outputs.get("metrics")
    if not m:
        return None
    try:
        data = json.loads(Path(m["path"]).read_text("utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    return data.get("inputs") or None


def _confusion(reports: dict[str, Any], t: float) -> Any:
    rows = []
    for name, r in reports.items():
        c = charts.confusion_at(r, t)
        rows.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(f"{c['threshold']:.3f}"),
                    html.Td(f"{c['tp']:,}"),
                    html.Td(f"{c['fp']:,}"),
                    html.Td(f"{c['fn']:,}"),
                    html.Td(f"{c['tn']:,}"),
                    html.Td(f"{c['precision']:.3f}"),
                    html.Td(f"{c['recall']:.3f}"),
                    html.Td(f"{c['f1']:.3f}"),
                    html.Td(f"{c['accuracy']:.3f}"),
                ]
            )
        )
    head = html.Tr(
        [
            html.Th(h)
            for h in (
                "input",
                "threshold",
                "TP",
                "FP",
                "FN",
                "TN",
                "precision",
                "recall",
                "F1",
                "accuracy",
            )
        ]
    )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="grid")


def _outputs_view(
    ws: Workspace, found: identity.NodeResult | None, nid: str, port: str | None
) -> Any:
    from engine.stats import preview_rows, table_stats

    if not found:
        return html.Div(
            f'"{nid}" has no outputs from this flow yet: run the flow (or Run to here).',
            className="muted",
        )
    rid, outs = found.run_id, found.outputs
    ports = list(outs)
    if not ports:
        return html.Div(f'"{nid}" has no outputs to show.', className="muted")
    port = port if port in outs else ports[0]
    tabs = html.Div(
        [
            html.Button(
                p,
                id={"type": "port-tab", "port": p},
                n_clicks=0,
                className="btab" + (" active" if p == port else ""),
            )
            for p in ports
        ]
        + [html.Span(f"run {rid}", className="muted small")],
        className="btabs inner",
    )
    stale = identity.stale_notice(found)
    if stale is not None:
        tabs = html.Div([stale, tabs])
    out = outs[port]
    kind = out.get("type")
    body: Any
    if kind == "table" and out.get("transient"):
        return [
            tabs,
            html.Div(
                "This output went to the next nodes without being saved (a run of `seer run` "
                "keeps only what is needed). Rerun the node here to see it.",
                className="muted",
            ),
        ]
    if kind == "table":
        try:
            pv = preview_rows(out["path"], 50)
            st = table_stats(out["path"])
        except Exception as exc:  # an output removed from disk
            return [tabs, html.Div(f"Cannot read this output: {exc}", className="error")]
        cols = [c["name"] for c in pv["columns"]]
        grid = dash_table.DataTable(
            data=[{k: _cell(v) for k, v in r.items()} for r in pv["rows"]],
            columns=[
                {"name": f"{c['name']} ({c['type']})", "id": c["name"]} for c in pv["columns"]
            ],
            page_size=10,
            style_table={"overflowX": "auto"},
            style_cell={
                "fontFamily": "Inter, system-ui, sans-serif",
                "fontSize": 12,
                "padding": "4px 8px",
                "maxWidth": 220,
                "overflow": "hidden",
                "textOverflow": "ellipsis",
            },
            style_header={"fontWeight": "600", "backgroundColor": "#f3f4f6"},
            id={"type": "preview", "node": nid},
        )
        stats_rows = []
        for c in st["columns"]:
            hist = c.get("histogram") or {}
            spark = _sparkline(hist.get("counts") or [t["count"] for t in c.get("top", [])[:10]])
            top = ", ".join(f"{t['value']} ({t['count']:,})" for t in c.get("top", [])[:3])
            mean = "" if c.get("mean") is None else f"{c['mean']:.4g}"
            stats_rows.append(
                html.Tr(
                    [
                        html.Td(c["name"]),
                        html.Td(c["type"]),
                        html.Td(f"{c['missing']:,}"),
                        html.Td(str(c.get("distinct", ""))),
                        html.Td(_cell(c.get("min"))),
                        html.Td(_cell(c.get("max"))),
                        html.Td(mean),
                        html.Td(spark),
                        html.Td(top),
                    ]
                )
            )
        head = html.Tr(
            [
                html.Th(h)
                for h in (
                    "column",
                    "type",
                    "missing",
                    "distinct",
                    "min",
                    "max",
                    "mean",
                    "distribution",
                    "top values",
                )
            ]
        )
        body = html.Div(
            [
                html.Div(
                    f"{pv['total_rows']:,} rows × {len(cols)} columns; first {len(pv['rows'])} shown",
                    className="muted small",
                ),
                grid,
                html.Div("Column statistics", className="group-title"),
                html.Table([html.Thead(head), html.Tbody(stats_rows)], className="grid"),
            ]
        )
    elif kind == "metrics":
        body = _evaluation_view(ws, rid, nid, out)
    elif kind == "model":
        body = _model_view(nid, out, found.current)
    else:
        path = Path(out.get("path", ""))
        text = ""
        if path.is_file():
            text = path.read_text("utf-8")[:20000]
        elif path.is_dir():
            files = sorted(p.name for p in path.iterdir())
            text = "\n".join(files)
            for f in ("manifest.json", "report.json", "transform.json"):
                if (path / f).exists():
                    text = (path / f).read_text("utf-8")[:20000]
                    break
        body = html.Pre(text, className="code-view")
    return [tabs, body]


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (int, str, bool)):
        return v if not isinstance(v, bool) else str(v)
    return str(v)


def _sparkline(counts: list[int]) -> Any:
    if not counts:
        return ""
    top = max(counts) or 1
    return html.Div(
        [
            html.Div(className="bar", style={"height": f"{max(1, round(22 * c / top))}px"})
            for c in counts[:30]
        ],
        className="spark",
    )


def _evaluation_view(ws: Workspace, rid: str, nid: str, out: dict[str, Any]) -> Any:
    try:
        data = json.loads(Path(out["path"]).read_text("utf-8"))
    except (OSError, ValueError):
        return html.Div("The evaluation report could not be read.", className="error")
    reports = data.get("inputs") or {}
    if not reports:
        return html.Pre(json.dumps(data, indent=1)[:5000])
    scal = []
    for name, r in reports.items():
        scal.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(f"{r['auc']:.4f}", className="auc"),
                    html.Td(f"{r['ks']:.4f}"),
                    html.Td(f"{r['logloss']:.4f}"),
                    html.Td(f"{r['average_precision']:.4f}"),
                    html.Td(f"{r['ks_threshold']:.4f}"),
                    html.Td(f"{r['rows']:,}"),
                    html.Td(f"{r['positives']:,}"),
                ]
            )
        )
    head = html.Tr(
        [
            html.Th(h)
            for h in ("input", "AUC", "KS", "logloss", "AP", "KS threshold", "rows", "positives")
        ]
    )
    first = next(iter(reports.values()))
    figs = [
        charts.roc(reports),
        charts.pr(reports),
        charts.ks(reports),
        charts.gain(reports),
        charts.lift(reports),
        charts.calibration(reports),
    ]
    imps = [charts.importance(r, n) for n, r in reports.items()]
    graphs = [
        dcc.Graph(figure=f, config={"displaylogo": False, "responsive": True}, className="chart")
        for f in figs
    ]
    graphs += [
        dcc.Graph(figure=f, config={"displaylogo": False}, className="chart")
        for f in imps
        if f is not None
    ]
    return html.Div(
        [
            html.Table(
                [html.Thead(head), html.Tbody(scal)], className="grid metrics", id="eval-metrics"
            ),
            html.Div(
                [
                    html.Span("Threshold", className="plabel"),
                    dcc.Slider(
                        id={"type": "threshold", "node": nid},
                        min=0,
                        max=1,
                        step=0.01,
                        value=round(float(first.get("threshold", 0.5)), 2),
                        marks={0: "0", 0.25: "0.25", 0.5: "0.5", 0.75: "0.75", 1: "1"},
                        tooltip={"placement": "bottom"},
                    ),
                    html.Div(
                        _confusion(reports, float(first.get("threshold", 0.5))),
                        id={"type": "cm", "node": nid},
                    ),
                ],
                className="threshold",
            ),
            html.Div(graphs, className="charts"),
        ]
    )


def _model_view(nid: str, out: dict[str, Any], current: bool = True) -> Any:
    path = Path(out["path"])
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        manifest = {}
    fields = manifest.get("input_schema") or []
    summary = [
        html.Div(
            [
                html.B("Model: "),
                manifest.get("model_type", "?"),
                f" · label {manifest.get('label')}",
                f" · threshold {manifest.get('threshold', 0):.4f}",
            ]
        ),
        html.Div([html.B("Inputs: "), ", ".join(f["name"] for f in fields)], className="small"),
    ]
    tuning = manifest.get("tuning") or []
    trials = tuning.get("trials", []) if isinstance(tuning, dict) else tuning
    if trials:
        rows = [
            html.Tr(
                [
                    html.Td(t.get("name")),
                    html.Td(f"{t.get('valid_auc', 0):.4f}"),
                    html.Td(str(t.get("rounds", ""))),
                    html.Td(f"{t.get('seconds', 0):.2f}"),
                ]
            )
            for t in trials
            if isinstance(t, dict)
        ]
        summary.append(
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [html.Th(h) for h in ("trial", "validation AUC", "rounds", "seconds")]
                        )
                    ),
                    html.Tbody(rows),
                ],
                className="grid",
            )
        )
    publish = (
        [
            html.Button(
                "Publish…", id={"type": "publish", "node": nid}, n_clicks=0, className="btn primary"
            ),
            html.Span(" registers this model and serves it (Models page).", className="muted"),
        ]
        if current
        else [html.Div("Run the flow again to publish the model the canvas describes.")]
    )
    return html.Div([*publish, *summary])


def _models_view(ws: Workspace, scoring: ScoringService) -> Any:
    from engine.model_registry import ModelRegistry

    reg = ModelRegistry(ws)
    models = reg.list_models()
    url = scoring.url
    status = scoring.status()
    head = html.Div(
        [
            html.H2("Models"),
            html.Div(
                [
                    html.Span("Scoring service: "),
                    html.Span(status, className="mono"),
                    html.Span(f"  {url}", className="mono muted"),
                ],
                className="muted",
            ),
        ]
    )
    if not models:
        return html.Div(
            [
                head,
                html.Div(
                    "No models yet: run a flow with a model, then Publish from the model node's Output tab.",
                    className="muted",
                ),
            ]
        )
    cards = []
    for m in models:
        show = reg.show(m["name"])
        versions = show.get("versions", [])
        vrows = []
        for v in versions:
            metrics = v.get("metrics") or {}
            auc = metrics.get("valid_auc") or metrics.get("auc")
            vrows.append(
                html.Tr(
                    [
                        html.Td(f"v{v['version']}"),
                        html.Td(
                            html.Span(v.get("stage", ""), className=f"pill st-{v.get('stage', '')}")
                        ),
                        html.Td("" if auc is None else f"{auc:.4f}"),
                        html.Td(
                            time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created_at"]))
                            if v.get("created_at")
                            else ""
                        ),
                        html.Td(f"{v.get('flow_name') or ''} / {v.get('node_id') or ''}"),
                        html.Td(
                            [
                                html.Button(
                                    "Promote",
                                    id={
                                        "type": "model-act",
                                        "name": m["name"],
                                        "version": v["version"],
                                        "act": "promote",
                                    },
                                    n_clicks=0,
                                    className="btn small",
                                ),
                                html.Button(
                                    "Canary",
                                    id={
                                        "type": "model-act",
                                        "name": m["name"],
                                        "version": v["version"],
                                        "act": "canary",
                                    },
                                    n_clicks=0,
                                    className="btn small",
                                ),
                            ]
                        ),
                    ]
                )
            )
        endpoint = f"{url}/v1/models/{m['name']}:predict"
        fields = try_it_fields(ws, m["name"])
        example = {f["name"]: f["example"] for f in fields}
        curl = f"curl -s -X POST {endpoint} -H 'Content-Type: application/json' -d '{json.dumps({'instances': [example]})}'"
        form = [
            html.Div(
                [
                    html.Label(f["name"], className="plabel"),
                    dcc.Input(
                        id={
                            "type": "try-field",
                            "name": m["name"],
                            "col": f["name"],
                            "kind": f["kind"],
                        },
                        value="" if f["example"] is None else str(f["example"]),
                        type="text",
                        className="field",
                    ),
                ],
                className="try-field",
            )
            for f in fields
        ]
        cards.append(
            html.Div(
                [
                    html.H3(m["name"]),
                    html.Div(
                        [
                            f"production v{m['production']}",
                            f" · canary v{m['canary']} ({m['canary_percent']:g}%)"
                            if m.get("canary")
                            else "",
                            f" · {m['versions']} version(s)",
                        ],
                        className="muted",
                    ),
                    html.Table(
                        [
                            html.Thead(
                                html.Tr(
                                    [
                                        html.Th(h)
                                        for h in (
                                            "version",
                                            "stage",
                                            "AUC",
                                            "published",
                                            "from",
                                            "",
                                        )
                                    ]
                                )
                            ),
                            html.Tbody(vrows),
                        ],
                        className="grid",
                    ),
                    html.Div(
                        [
                            html.Button(
                                "Roll back",
                                id={
                                    "type": "model-act",
                                    "name": m["name"],
                                    "version": m["production"],
                                    "act": "rollback",
                                },
                                n_clicks=0,
                                className="btn small",
                            ),
                            html.Span(" canary share % ", className="muted"),
                            dcc.Input(
                                id={"type": "canary-pct", "name": m["name"]},
                                type="number",
                                value=10,
                                min=1,
                                max=99,
                                className="field tiny",
                            ),
                        ],
                        className="row",
                    ),
                    html.Div([html.B("Endpoint "), html.Code(endpoint)], className="endpoint"),
                    html.Div(
                        [
                            html.Pre(
                                curl,
                                className="code-view curl",
                                id={"type": "curl", "name": m["name"]},
                            ),
                            dcc.Clipboard(
                                target_id={"type": "curl", "name": m["name"]},
                                title="Copy",
                                className="copy",
                            ),
                        ],
                        className="curl-box",
                    ),
                    html.Div("Try it", className="group-title"),
                    html.Div(form, className="try-form"),
                    html.Button(
                        "Score",
                        id={"type": "try-go", "name": m["name"]},
                        n_clicks=0,
                        className="btn primary",
                    ),
                    html.Div(id={"type": "try-result", "name": m["name"]}, className="try-result"),
                ],
                className="card",
            )
        )
    return html.Div([head, *cards])


def _routes(app: dash.Dash, ws: Workspace, flows: FlowFolder) -> None:
    from flask import jsonify

    server = app.server

    @server.get("/studio/api/catalog")
    def _catalog() -> Any:
        return jsonify(catalog())
