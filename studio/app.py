"""The studio: a Dash app around a dash-cytoscape canvas, put together from pages
(studio/pages) and components (studio/components); the stores they share are named in
studio/state.py.

The browser owns the graph (assets/10_seer_canvas.js): it creates nodes on drop, links them,
deletes, undoes, and pushes the canvas document to the `doc` store. The server validates that
document, renders the inspector from operator specs, saves flows, runs them on the warm
SparkSession and shows results. The server writes the canvas `elements` only when a flow is
loaded (New, Open, Import, a past run)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dash
from dash import html

from engine.workspace import Workspace
from studio import admin, auth, conflicts, dialogs, state
from studio.components import (
    canvas,
    featureeditor,
    filepicker,
    files,
    header,
    inspector,
    modal,
    palette,
    paramform,
    problems,
    publish,
    results,
    runpanel,
    toasts,
)
from studio.context import Studio
from studio.model import catalog
from studio.pages import audit, flow, models, monitoring, runs, users

log = logging.getLogger("seer.studio")
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def layout() -> html.Div:
    return html.Div(
        [
            header.header(),
            flow.layout(),
            runs.layout(),
            models.layout(),
            monitoring.layout(),
            *users.layout(),
            *audit.layout(),
            modal.layout(),
            featureeditor.layout(),
            *state.stores(),
            *dialogs.layout(),
            *conflicts.layout(),
        ],
        className="app",
    )


def create_app(
    workspace: Workspace,
    master: str | None = None,
    serve_port: int = 8600,
    bind_host: str = "127.0.0.1",
    allowed_hosts: tuple[str, ...] = (),
    data_roots: tuple[str, ...] = (),
) -> dash.Dash:
    studio = Studio.open(workspace, master, serve_port, data_roots)
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="Seer studio",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = 512 * 1024 * 1024
    _routes(app)
    auth.install(app, studio.ws, bind_host, allowed_hosts)
    app.layout = layout()

    header.register(app)
    flow.register(app)
    toasts.register(app)
    for part in (admin, canvas, palette, problems, inspector, paramform, modal, files):
        part.register(app, studio)
    for part in (conflicts, dialogs, filepicker, runpanel, results, publish, featureeditor):
        part.register(app, studio)
    for page in (runs, models, monitoring, users, audit):
        page.register(app, studio)
    return app


def _routes(app: dash.Dash) -> None:
    from flask import jsonify

    @app.server.get("/studio/api/catalog")
    def _catalog() -> Any:
        return jsonify(catalog())
