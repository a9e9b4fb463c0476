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
]
FILE_ACTIONS = [
    ("New", "btn-new", "Start an empty flow"),
    ("Open", "btn-open", "Open a flow or a sample"),
    ("Save", "btn-save", "Save (Ctrl+S)"),
    ("Save as", "btn-saveas", "Save under a new name"),
    ("Rename", "btn-rename", "Rename the flow file"),
    ("Duplicate", "btn-duplicate", "Save a copy and open it"),
    ("Delete", "btn-delete", "Delete the flow file"),
]


def header() -> html.Div:
    tabs = [
        button(label, bid, title, "tab active" if bid == "page-flow" else "tab")
        for label, bid, title in PAGES
    ]
    files = [button(label, bid, title) for label, bid, title in FILE_ACTIONS]
    importer = dcc.Upload(
        html.Button("Import", className="btn", title="Open a flow file from your computer"),
        id="upload-flow",  # any file: a wrong one is refused with the reason
    )
    run = [
        button("▶ Run all", "btn-run", "Run every node (cached ones are reused)", "btn primary"),
        button("Run to here", "btn-run-to", "Run what the selected node needs, and it"),
        button("Rerun node", "btn-rerun", "Run the selected node again, ignoring its cache"),
        button("■ Stop", "btn-stop", "Cancel the run", "btn danger"),
    ]
    return html.Div(
        [
            html.Div([html.Span("◉", className="logo-mark"), "Seer"], className="logo"),
            html.Div(tabs, className="tabs"),
            html.Div(
                [
                    html.Span("untitled", id="flow-name", className="flow-name"),
                    html.Span("", id="dirty", className="dirty"),
                ],
                className="title",
            ),
            html.Div(
                [*files, importer, button("Export", "btn-export", "Download the flow file")],
                className="toolbar",
            ),
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
        *(Input(f"page-{p}", "n_clicks") for p in ("flow", "runs", "models", "users", "audit")),
        prevent_initial_call=True,
    )
    # closing the tab with unsaved changes asks first (assets/15_seer_callbacks.js)
    clientside_callback(app, "unsavedMark", Input("dirty", "children"))
