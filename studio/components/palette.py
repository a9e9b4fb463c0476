"""The operator palette: operators by category, searchable, dragged onto the canvas; and the
upload of a data file, which adds an import node reading it."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from studio import auth, state
from studio.context import Studio, clientside_callback, server_callback
from studio.model import palette_groups

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")


def _operator(spec: dict[str, Any], category: str) -> html.Div:
    return html.Div(
        [
            html.Span(className="dot", style={"background": spec["colour"]}),
            html.Span(spec["title"] or spec["id"]),
        ],
        className="op",
        draggable="true",
        title=f"{spec['id']}: {spec['description']}",
        **{
            "data-optype": spec["id"],
            "data-search": f"{spec['id']} {spec['title']} {spec['description']} {category}".lower(),
        },
    )


def palette() -> html.Div:
    groups = [
        html.Div(
            [html.Div(cat, className="group-title"), *(_operator(s, cat) for s in specs)],
            className="group",
        )
        for cat, specs in palette_groups()
    ]
    return html.Div(
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
            html.Div(groups, id="palette-groups"),
        ],
        className="palette",
        id="palette",
    )


def upload_data(studio: Studio, contents: str | None, filename: str | None) -> tuple:
    """A data file from the browser, written atomically into the workspace's flows/data/."""
    if not contents or not filename:
        return no_update, no_update
    ws = studio.ws
    auth.require(ws, "upload", "data.upload")
    from engine.atomic import atomic_write_bytes

    name = Path(filename).name
    if Path(name).suffix.lower() not in DATA_SUFFIXES:
        auth.audit(ws, "data.upload", "failed", detail=f"{name}: not CSV or Parquet")
        return no_update, state.toast(f'"{name}" is not a CSV or Parquet file.', "error")
    target = ws.flows_dir / "data" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, base64.b64decode(contents.split(",", 1)[1]))
    auth.audit(ws, "data.upload", detail=f"data/{name}")
    op = "import.parquet" if name.lower().endswith(".parquet") else "import.csv"
    msg = f"Uploaded {name} to {target.parent}; an import node reads it."
    return {"op": op, "path": f"data/{name}", "ts": time.time()}, state.toast(msg)


def register(app: dash.Dash, studio: Studio) -> None:
    clientside_callback(
        app, "paletteSearch", Input("palette-search", "value"), prevent_initial_call=True
    )
    server_callback(
        app,
        studio,
        upload_data,
        Output(state.UPLOADED, "data"),
        Output(state.TOAST, "data", allow_duplicate=True),
        Input("upload-data", "contents"),
        State("upload-data", "filename"),
        prevent_initial_call=True,
    )
    clientside_callback(
        app, "placeUpload", Input(state.UPLOADED, "data"), prevent_initial_call=True
    )
