"""Which action a Dash callback request performs, read from the request body before Dash runs it.

A request to ``/_dash-update-component`` names its callback (``output``, the key of
``app.callback_map``) and what triggered it (``changedPropIds``). Each server callback of the
studio is listed in ``RULES`` by function name with a rule turning the triggers into an action
of engine/users.py (view, edit, save, run, upload, publish, promote, canary, rollback, users,
audit). A callback missing from ``RULES``, or a trigger a rule does not know, needs admin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import dash

Trigger = str | dict[str, Any]
Rule = Callable[[Trigger, dict[str, Any]], str]

STRICTEST = "admin-only"

# what the shared dialog's OK button does, by the dialog's action
MODAL_ACTIONS = {
    None: "view",
    "none": "view",
    "open": "view",
    "browse": "edit",
    "saveas": "save",
    "rename": "save",
    "delete": "save",
    "publish": "publish",
}


def _state(body: dict[str, Any], cid: str, prop: str) -> Any:
    items = body.get("state")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id") == cid and item.get("property") == prop:
            return item.get("value")
    return None


def _modal(body: dict[str, Any]) -> str:
    mstate = _state(body, "modal-state", "data")
    action = mstate.get("action") if isinstance(mstate, dict) else None
    return (
        MODAL_ACTIONS.get(action, STRICTEST) if isinstance(action, (str, type(None))) else STRICTEST
    )


def _by_id(table: dict[str, str], default: str = "view") -> Rule:
    """Buttons named in `table` do that action; any other trigger is `default`."""

    def rule(trig: Trigger, body: dict[str, Any]) -> str:
        if trig == "modal-ok":
            return _modal(body)
        if isinstance(trig, dict):
            return table.get(f"type:{trig.get('type')}", default)
        return table.get(trig, default) if isinstance(trig, str) else STRICTEST

    return rule


def _always(action: str) -> Rule:
    return lambda trig, body: action


def _page(page: str, action: str) -> Rule:
    """A page's callback runs on every page switch: it does `action` only when its page shows."""

    def rule(trig: Trigger, body: dict[str, Any]) -> str:
        items = body.get("inputs")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("id") == "page" and item.get("value") == page:
                return action
        return "view"

    return rule


def _model_action(trig: Trigger, body: dict[str, Any]) -> str:
    act = trig.get("act") if isinstance(trig, dict) else None
    return act if isinstance(act, str) and act in ("promote", "canary", "rollback") else STRICTEST


def _conflict_choice(trig: Trigger, body: dict[str, Any]) -> str:
    choice = trig.get("choice") if isinstance(trig, dict) else None
    return (
        {"reload": "view", "overwrite": "save"}.get(choice, STRICTEST)
        if isinstance(choice, str)
        else STRICTEST
    )


RULES: dict[str, Rule] = {
    # flow files: opening and exporting is looking, the rest changes files
    "files": _by_id({"btn-save": "save", "btn-duplicate": "save"}),
    "open_modal": _by_id(
        {
            "btn-save": "save",
            "btn-saveas": "save",
            "btn-rename": "save",
            "btn-delete": "save",
            "type:browse": "edit",
            "type:publish": "publish",
        }
    ),
    "run_control": _by_id(
        {"btn-run": "run", "btn-run-to": "run", "btn-rerun": "run", "btn-stop": "run"}
    ),
    "upload_data": _always("upload"),
    "browse_dir": _always("edit"),
    "browse_pick": _always("edit"),
    "publish": _by_id({}, default=STRICTEST),
    "model_action": _model_action,
    "conflict_choice": _conflict_choice,
    # the unsaved-changes dialog (studio/dialogs.py): only its Save writes a file
    "unsaved_guard": _by_id({"unsaved-save": "save"}),
    "users_page": _page("users", "users"),
    "user_action": _always("users"),
    "audit_page": _page("audit", "audit"),
    # reading: validation, inspector, run status, outputs, pages, trying a served model
    **{
        name: _always("view")
        for name in (
            "validate",
            "stylesheet",
            "inspector",
            "inspector_messages",
            "poll",
            "output",
            "threshold",
            "runs_page",
            "models_page",
            "monitoring_models",
            "monitoring_view",
            "try_it",
            "feature_profile",
            "session_header",
            "conflict_dialog",
        )
    },
}


def _trigger(prop_id: str) -> Trigger:
    cid = prop_id.rsplit(".", 1)[0]
    if cid.startswith("{"):
        try:
            parsed = json.loads(cid)
        except ValueError:
            return cid
        return parsed if isinstance(parsed, dict) else cid
    return cid


def callback_name(app: dash.Dash, body: dict[str, Any]) -> str | None:
    entry = (
        app.callback_map.get(body.get("output")) if isinstance(body.get("output"), str) else None
    )
    fn = (entry or {}).get("callback")
    return getattr(fn, "__name__", None)


def action_of(app: dash.Dash, body: dict[str, Any]) -> str:
    """The action a callback request performs: the most demanding among its triggers (a
    page-load call with no trigger counts as the callback's reading action)."""
    from engine.users import ROLES, required_role

    rule = RULES.get(callback_name(app, body) or "")
    if rule is None:
        return STRICTEST
    changed = body.get("changedPropIds") or []
    if not isinstance(changed, list):
        return STRICTEST
    triggers = [_trigger(p) for p in changed if isinstance(p, str)] or [""]
    actions = [rule(t, body) for t in triggers]
    return max(actions, key=lambda a: ROLES.index(required_role(a)))
