"""The header: page tabs, the flow's name and unsaved mark, the flow-file and run toolbars."""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

from studio import admin, state
from studio.components.widgets import button
from studio.context import clientside_callback

PAGES = [
    ("Flow", "page-flow", "The flow editor"),
    ("Runs", "page-runs", "Run history"),
    ("Models", "page-models", "Model registry and serving"),
    ("Monitoring", "page-monitoring", "Traffic, drift, live accuracy and alerts of served models"),
]
FILE_ACTIONS = [
    ("New", "btn-new", "Start an empty flow"),
    ("Open", "btn-open", "Open a flow or a sample"),
    ("Save", "btn-save", "Save (Ctrl+S)"),
]
# less frequent flow-file actions, in the "More" menu
MORE_ACTIONS = [
    ("Save as…", "btn-saveas", "Save under a new name"),
    ("Rename…", "btn-rename", "Rename the flow file"),
    ("Duplicate", "btn-duplicate", "Save a copy and open it"),
    ("Export", "btn-export", "Download the flow file"),
    ("Delete file…", "btn-delete", "Delete the flow file (the canvas keeps the flow)"),
]
RUN_ACTIONS = [
    ("▶ Run all", "btn-run", "Run every node (cached ones are reused)", "btn primary"),
    ("Run to here", "btn-run-to", "Run what the selected node needs, and it", "btn"),
    ("Rerun node", "btn-rerun", "Run the selected node again, ignoring its cache", "btn"),
    ("■ Stop", "btn-stop", "Cancel the run (active while a run goes on)", "btn danger"),
]


def more_menu() -> html.Details:
    items = [button(label, bid, title, "btn menu-item") for label, bid, title in MORE_ACTIONS]
    importer = dcc.Upload(
        html.Button(
            "Import…", className="btn menu-item", title="Open a flow file from your computer"
        ),
        id="upload-flow",  # any file: a wrong one is refused with the reason
    )
    return html.Details(
        [
            html.Summary(
                "More ▾",
                className="btn",
                title="Save as, rename, duplicate, import, export, delete",
            ),
            html.Div([*items[:3], importer, *items[3:]], className="menu"),
        ],
        id="file-menu",
        className="file-menu",
    )


def header() -> html.Div:
    tabs = [
        button(label, bid, title, "tab active" if bid == "page-flow" else "tab")
        for label, bid, title in PAGES
    ]
    files = [button(label, bid, title) for label, bid, title in FILE_ACTIONS]
    run = [button(label, bid, title, cls) for label, bid, title, cls in RUN_ACTIONS]
    run[-1].disabled = True  # until a run goes on (components/runpanel.py)
    return html.Div(
        [
            html.Div([html.Span("◉", className="logo-mark"), "Seer"], className="logo"),
            html.Div(tabs, className="tabs"),
            html.Div(
                [
                    # a caption and a separator: the flow's name is not one more page tab
                    html.Span("file", className="title-caption"),
                    html.Span("untitled", id="flow-name", className="flow-name"),
                    html.Span("", id="dirty", className="dirty"),
                ],
                className="title",
            ),
            html.Div([*files, more_menu()], className="toolbar"),
            html.Div(run, className="toolbar run"),
            admin.header_area(),
        ],
        className="header",
    )


def register(app: dash.Dash) -> None:
    clientside_callback(
        app,
        "pageTab",
        Output(state.PAGE, "data"),
        *(
            Input(f"page-{p}", "n_clicks")
            for p in ("flow", "runs", "models", "monitoring", "users", "audit")
        ),
        prevent_initial_call=True,
    )
    # closing the tab with unsaved changes asks first (assets/15_seer_callbacks.js)
    clientside_callback(app, "unsavedMark", Input("dirty", "children"))
