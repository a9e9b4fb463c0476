"""Parameter edits in the inspector (studio/forms.py renders the fields): every edit goes
straight into the node's data in the browser."""

from __future__ import annotations

import dash
from dash import ALL, Input

from studio.context import Studio, clientside_callback


def register(app: dash.Dash, studio: Studio) -> None:
    clientside_callback(
        app,
        "paramEdit",
        Input({"type": "param", "node": ALL, "name": ALL, "kind": ALL}, "value"),
        Input({"type": "label", "node": ALL}, "value"),
        Input({"type": "edgeport", "edge": ALL, "end": ALL}, "value"),
        prevent_initial_call=True,
    )
