"""The shared modal dialog (a title, a body, an optional name field, Cancel and OK) and what
opens it: Open, Save (first save), Save as, Rename, Delete, a file picker, Publish. What OK
then does is decided by the dialog's action, kept in the MODAL_STATE store."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from studio import state
from studio.components.filepicker import browser
from studio.components.widgets import button
from studio.context import Studio, Trigger, server_callback
from studio.model import sample_flows

NAME_HINT = "Flow name (letters, digits, spaces, . _ -)"
HIDDEN = ("modal hidden", no_update, no_update, no_update, no_update, None, "")
UNCHANGED = (no_update,) * 7
NO_INPUT = {"display": "none"}


def short_text(text: str, limit: int) -> str:
    """``text`` cut at a word boundary within ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def layout() -> html.Div:
    return html.Div(
        html.Div(
            [
                html.Div(id="modal-title", className="modal-title"),
                html.Div(id="modal-body"),
                dcc.Input(id="modal-input", type="text", className="field", debounce=False),
                html.Div(id="modal-error", className="error"),
                html.Div(
                    [button("Cancel", "modal-cancel"), button("OK", "modal-ok", "", "btn primary")],
                    className="modal-buttons",
                ),
            ],
            className="modal-box",
            role="dialog",
            **{"aria-modal": "true", "aria-labelledby": "modal-title"},
        ),
        id="modal",
        className="modal hidden",
    )


def dialog(title: str, body: Any, action: dict[str, Any], value: str | None = None) -> tuple:
    """The modal's outputs to show it; `value` None hides the name field."""
    style = NO_INPUT if value is None else {}
    return "modal", title, body, value or "", style, action, ""


def _list_item(kind: str, name: str, children: list[Any]) -> html.Div:
    return html.Div(children, id={"type": kind, "name": name}, className="list-item", n_clicks=0)


def open_dialog(studio: Studio) -> tuple:
    stamp = "%Y-%m-%d %H:%M"
    saved = [
        _list_item(
            "open-flow",
            f["name"],
            [
                html.Span(f["name"], className="fname"),
                html.Span(
                    time.strftime(stamp, time.localtime(f["modified"])), className="muted small"
                ),
            ],
        )
        for f in studio.flows.list()
    ]
    samples = [
        _list_item(
            "open-sample",
            s["name"],
            [
                html.Span(s["name"], className="fname"),
                html.Div(
                    short_text(s["description"], 160),
                    title=s["description"],
                    className="muted small",
                ),
            ],
        )
        for s in sample_flows()
    ]
    body = [
        html.Div("Your flows", className="group-title"),
        *(saved or [html.Div("No saved flows yet.", className="muted")]),
        html.Div("Sample flows", className="group-title"),
        *samples,
    ]
    return dialog("Open a flow", body, {"action": "open"})


def _name_dialog(action: str, meta: dict[str, Any]) -> tuple:
    if action == "rename" and not meta.get("file"):
        action = "saveas"
    title = "Save the flow as" if action == "saveas" else "Rename the flow"
    hint = html.Div(NAME_HINT, className="muted")
    return dialog(title, hint, {"action": action}, meta.get("name") or "")


def _first_save(meta: dict[str, Any]) -> tuple:
    if meta.get("file"):  # the flow-file callback saves it
        return UNCHANGED
    name = "" if (meta.get("name") or "untitled") == "untitled" else meta["name"]
    hint = html.Div(NAME_HINT, className="muted")
    return dialog("Name the flow to save it", hint, {"action": "saveas"}, name)


def _delete(meta: dict[str, Any]) -> tuple:
    if not meta.get("file"):
        body = html.Div("This flow has not been saved.")
        return dialog("Nothing to delete", body, {"action": "none"})
    body = html.Div(
        [
            f'Delete the flow file "{meta["file"]}"? ',
            html.B("This cannot be undone."),
            " Runs and models stay.",
        ]
    )
    return dialog("Delete flow", body, {"action": "delete"})


def _pattern_dialog(studio: Studio, trig: dict[str, Any]) -> tuple:
    if trig.get("type") == "browse":
        where = str(studio.ws.flows_dir / "data")
        action = {"action": "browse", "node": trig["node"], "name": trig["name"]}
        return dialog("Choose a file", browser(studio, where), action)
    if trig.get("type") == "publish":
        hint = html.Div("Model name in the registry (letters, digits, _ - .)", className="muted")
        action = {"action": "publish", "node": trig["node"]}
        return dialog("Publish the model", hint, action, trig["node"].replace("_", "-"))
    return HIDDEN


def open_modal(studio: Studio, trig: Trigger, go_open: Any, *args: Any) -> tuple:
    """Outputs: class, title, body, name value, name style, MODAL_STATE, error."""
    meta = args[-1] or state.empty_meta()
    if trig.id == "modal-cancel":
        return HIDDEN
    if trig.empty_pattern:
        return UNCHANGED
    if isinstance(trig.id, dict):
        return _pattern_dialog(studio, trig.id)
    if trig.id == "btn-save":  # a first save asks for the flow's name
        return _first_save(meta)
    if trig.id == state.GO_OPEN:
        return open_dialog(studio) if go_open else UNCHANGED  # not the store's first value
    if trig.id in ("btn-saveas", "btn-rename"):
        return _name_dialog("saveas" if trig.id == "btn-saveas" else "rename", meta)
    if trig.id == "btn-delete":
        return _delete(meta)
    return HIDDEN


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        open_modal,
        Output("modal", "className"),
        Output("modal-title", "children"),
        Output("modal-body", "children"),
        Output("modal-input", "value"),
        Output("modal-input", "style"),
        Output(state.MODAL_STATE, "data"),
        Output("modal-error", "children"),
        Input(state.GO_OPEN, "data"),
        Input("btn-saveas", "n_clicks"),
        Input("btn-rename", "n_clicks"),
        Input("btn-delete", "n_clicks"),
        Input("modal-cancel", "n_clicks"),
        Input("btn-save", "n_clicks"),
        Input({"type": "browse", "node": ALL, "name": ALL}, "n_clicks"),
        Input({"type": "publish", "node": ALL}, "n_clicks"),
        State(state.META, "data"),
        trigger=True,
        prevent_initial_call=True,
    )
