"""The file picker for a node's path parameter: folders and data files inside the data roots
only (a pick made up by the browser is checked again)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dash
from dash import ALL, Input, Output, State, html, no_update

from studio import auth, state
from studio.context import Studio, Trigger, clientside_callback, server_callback

DATA_FILES = (".csv", ".parquet", ".json", ".db", ".txt", ".tsv")


def _folder(p: Path | str, label: str) -> html.Div:
    return html.Div(
        label, id={"type": "browse-dir", "path": str(p)}, className="list-item", n_clicks=0
    )


def _file(p: Path) -> html.Div:
    return html.Div(
        f"📄 {p.name}",
        id={"type": "browse-file", "path": str(p)},
        className="list-item",
        n_clicks=0,
    )


def _root_items(studio: Studio) -> list[Any]:
    local = studio.roots.local
    return [
        _folder(Path(root), f"📁 {root}")
        for root in local
        if Path(root).is_dir() and not any(Path(o) in Path(root).parents for o in local)
    ]


def _folder_items(studio: Studio, base: Path) -> list[Any]:
    ws, roots = studio.ws, studio.roots
    up = base.parent
    items = [_folder(up, "⬑ ..") if roots.contains(up) else _folder("", "⬑ data folders")]
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
            items.append(_folder(p, f"📁 {p.name}"))
        elif p.suffix.lower() in DATA_FILES:
            items.append(_file(p))
    return items


def browser(studio: Studio, where: str) -> Any:
    """A file picker limited to the data roots: "" lists the roots themselves."""
    base = Path(where).resolve() if where else None
    if base is not None and (not studio.roots.contains(base) or not base.is_dir()):
        base = None
    items = _root_items(studio) if base is None else _folder_items(studio, base)
    empty = html.Div(
        "Nothing here. Upload a CSV with the palette's Upload button.", className="muted"
    )
    return html.Div(
        [
            html.Div(
                f"{base}" if base else "Data folders (add one with seer studio --data-root DIR)",
                className="mono small muted",
            ),
            html.Div(items or [empty], className="browser"),
        ]
    )


def browse_dir(studio: Studio, trig: Trigger, _clicks: Any) -> Any:
    if not trig.pattern:
        return no_update
    auth.require(studio.ws, "edit", "files.browse")
    return browser(studio, trig.id["path"])


def browse_pick(studio: Studio, trig: Trigger, _clicks: Any, mstate: dict | None) -> tuple:
    """Outputs: the modal's class, a toast, the pick for the node's path field."""
    if not trig.pattern or not mstate:
        return no_update, no_update, no_update
    path = str(trig.id["path"])
    if not studio.roots.contains(path):  # the id came from the browser: check it
        return (
            no_update,
            state.toast(studio.roots.problem(path, "The picked file"), "error"),
            no_update,
        )
    pick = {"node": mstate["node"], "name": mstate["name"], "path": path, "ts": time.time()}
    return "modal hidden", state.toast(f"Picked {path}"), pick


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        browse_dir,
        Output("modal-body", "children", allow_duplicate=True),
        Input({"type": "browse-dir", "path": ALL}, "n_clicks"),
        trigger=True,
        prevent_initial_call=True,
    )
    server_callback(
        app,
        studio,
        browse_pick,
        Output("modal", "className", allow_duplicate=True),
        Output(state.TOAST, "data", allow_duplicate=True),
        Output(state.BROWSE_TARGET, "data"),
        Input({"type": "browse-file", "path": ALL}, "n_clicks"),
        State(state.MODAL_STATE, "data"),
        trigger=True,
        prevent_initial_call=True,
    )
    clientside_callback(
        app, "browsePicked", Input(state.BROWSE_TARGET, "data"), prevent_initial_call=True
    )
