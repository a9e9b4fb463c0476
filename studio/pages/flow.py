"""The flow editor page: palette, canvas with its bottom panel (Problems, Run log, Output),
inspector."""

from __future__ import annotations

import dash
from dash import Input, html

from studio.components import canvas, inspector, palette, results, toasts
from studio.components.widgets import button
from studio.context import clientside_callback

BOTTOM_TABS = [("Problems", "bt-problems"), ("Run log", "bt-log"), ("Output", "bt-output")]


def bottom_panel() -> html.Div:
    tabs = [
        button(label, bid, "", "btab active" if bid == "bt-problems" else "btab")
        for label, bid in BOTTOM_TABS
    ]
    grow = button(
        "⤢", "btn-results-size", "Give the results the whole height (again: back)", "btab"
    )
    return html.Div(
        [
            html.Div(
                id="bottom-resizer",
                className="resizer",
                title="Drag to resize the results panel",
                role="separator",
                **{"aria-orientation": "horizontal"},
            ),
            html.Div(
                [*tabs, html.Span(id="run-status", className="run-status"), grow],
                className="btabs",
            ),
            html.Div(
                [html.Div(id="problems")],
                id="problems-panel",
                className="bpanel",
            ),
            html.Div(id="run-log", className="bpanel hidden"),
            results.layout(),
        ],
        className="bottom",
        id="bottom",
    )


def layout() -> html.Div:
    center = html.Div(
        [canvas.toolbar(), canvas.canvas(), toasts.layout(), bottom_panel()], className="center"
    )
    return html.Div(
        [palette.palette(), center, inspector.layout()], className="flow-page", id="flow-page"
    )


def register(app: dash.Dash) -> None:
    clientside_callback(
        app,
        "bottomTab",
        *(Input(bid, "n_clicks") for _, bid in BOTTOM_TABS),
        prevent_initial_call=True,
    )
    clientside_callback(
        app, "toggleResultsSize", Input("btn-results-size", "n_clicks"), prevent_initial_call=True
    )
