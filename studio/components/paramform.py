"""Parameter edits in the inspector (studio/forms.py renders the fields): every edit goes
straight into the node's data in the browser; the feature table grows a row on "Add"."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, MATCH, Input, Output, State, no_update

from studio.context import Studio, clientside_callback, server_callback

NEW_FEATURE = {
    "kind": "discrete",
    "column": "",
    "with": "",
    "buckets": None,
    "transform": "",
    "name": "",
}


def add_feature(studio: Studio, n: int, rows: list | None) -> Any:
    if not n:
        return no_update
    return [*(rows or []), dict(NEW_FEATURE)]


def register(app: dash.Dash, studio: Studio) -> None:
    clientside_callback(
        app,
        "paramEdit",
        Input({"type": "param", "node": ALL, "name": ALL, "kind": ALL}, "value"),
        Input({"type": "label", "node": ALL}, "value"),
        Input({"type": "edgeport", "edge": ALL, "end": ALL}, "value"),
        prevent_initial_call=True,
    )
    clientside_callback(
        app,
        "featureTableEdit",
        Input({"type": "ftable", "node": ALL, "name": ALL}, "data"),
        prevent_initial_call=True,
    )
    clientside_callback(
        app,
        "featureEditorWide",
        Input({"type": "fwide", "node": ALL, "name": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    server_callback(
        app,
        studio,
        add_feature,
        Output({"type": "ftable", "node": MATCH, "name": MATCH}, "data"),
        Input({"type": "fadd", "node": MATCH, "name": MATCH}, "n_clicks"),
        State({"type": "ftable", "node": MATCH, "name": MATCH}, "data"),
        prevent_initial_call=True,
    )
