"""Publishing a trained model of this flow (the modal's OK when its action is "publish")."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, State, no_update

from studio import auth, identity, state
from studio.context import Studio, server_callback

KEEP = (no_update,) * 4


def publish(
    studio: Studio,
    _ok: Any,
    mstate: dict | None,
    name: str | None,
    run_id: str | None,
    meta: dict | None,
    doc: dict | None,
) -> tuple:
    """Outputs: the modal's class, the modal's error, a toast, the published model."""
    if not mstate or mstate.get("action") != "publish":
        return KEEP
    ws = studio.ws
    auth.require(ws, "publish", "model.publish")
    from engine.model_registry import ModelRegistry, RegistryError

    nid = mstate["node"]
    found = identity.canvas_result(ws, doc, meta, nid, run_id, studio.roots)
    model = found.outputs.get("model") if found and found.current else None
    if not model:
        why = "up-to-date " if found else ""
        msg = f'Node "{nid}" of this flow has no {why}trained model yet: run the flow first.'
        return no_update, msg, no_update, no_update
    name = (name or "").strip()
    try:
        version = ModelRegistry(ws).publish(
            model["path"],
            name,
            flow_name=(meta or {}).get("name"),
            run_id=found.run_id,
            node_id=nid,
        )
    except (RegistryError, OSError) as exc:
        auth.audit(ws, "model.publish", "failed", model=name, detail=str(exc))
        return no_update, str(exc), no_update, no_update
    auth.audit(
        ws, "model.publish", model=name, version=version, run_id=found.run_id, detail=f"node {nid}"
    )
    studio.scoring.ensure_started()
    msg = f'Published "{name}" version {version}. The Models page shows its endpoint.'
    target = {"name": name, "version": version, "ts": time.time()}
    return "modal hidden", "", state.toast(msg), target


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        publish,
        Output("modal", "className", allow_duplicate=True),
        Output("modal-error", "children", allow_duplicate=True),
        Output(state.TOAST, "data", allow_duplicate=True),
        Output(state.PUBLISH_TARGET, "data"),
        Input("modal-ok", "n_clicks"),
        State(state.MODAL_STATE, "data"),
        State("modal-input", "value"),
        State(state.RUN_ID, "data"),
        State(state.META, "data"),
        State(state.DOC, "data"),
        prevent_initial_call=True,
    )
