"""The toast: a short message over the canvas, written through the TOAST store."""

from __future__ import annotations

import dash
from dash import Input, html

from studio import state
from studio.context import clientside_callback


def layout() -> html.Div:
    return html.Div(id="toast", className="toast", role="status", **{"aria-live": "polite"})


def register(app: dash.Dash) -> None:
    clientside_callback(app, "toast", Input(state.TOAST, "data"), prevent_initial_call=True)
