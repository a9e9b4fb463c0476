"""The Models page: published models with their versions and stages, promote / canary /
roll back, the last retrain with its champion/challenger comparison side by side, the endpoint
with a curl line, and a form to try the production version."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from studio import admin, auth, state
from studio.context import Studio, Trigger, server_callback
from studio.services import ScoringService, try_it_fields

VERSION_HEADERS = ("version", "stage", "validation AUC", "published", "from", "")
NO_MODELS = "No models yet: run a flow with a model, then Publish from the model node's Output tab."


def _act(name: str, version: Any, act: str, label: str) -> html.Button:
    return html.Button(
        label,
        id={"type": "model-act", "name": name, "version": version, "act": act},
        n_clicks=0,
        className="btn small",
    )


def version_row(name: str, v: dict[str, Any]) -> html.Tr:
    metrics = v.get("metrics") or {}
    auc = metrics.get("valid_auc")  # measured on the training's validation rows
    if auc is None:
        auc = metrics.get("auc")
    published = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created_at"]))
        if v.get("created_at")
        else ""
    )
    return html.Tr(
        [
            html.Td(f"v{v['version']}"),
            html.Td(html.Span(v.get("stage", ""), className=f"pill st-{v.get('stage', '')}")),
            html.Td("" if auc is None else f"{auc:.4f}"),
            html.Td(published),
            html.Td(f"{v.get('flow_name') or ''} / {v.get('node_id') or ''}"),
            html.Td(
                # the production version is already where Promote and Canary would put it
                []
                if v.get("stage") == "production"
                else [
                    _act(name, v["version"], "promote", "Promote"),
                    _act(name, v["version"], "canary", "Canary"),
                ]
            ),
        ]
    )


def try_field(name: str, f: dict[str, Any]) -> html.Div:
    """One input of the try-it form; a category offers the values the model knows as a pick
    list (typing another value is still possible: the service then warns about it)."""
    known = f.get("known") or []
    list_id = f"try-known-{name}-{f['name']}" if known else None
    return html.Div(
        [
            html.Label(f["name"], className="plabel"),
            dcc.Input(
                id={"type": "try-field", "name": name, "col": f["name"], "kind": f["kind"]},
                value="" if f["example"] is None else str(f["example"]),
                type="text",
                className="field",
                list=list_id,
                placeholder=f"one of {len(known)} known values, or type" if known else None,
            ),
            html.Datalist([html.Option(value=v) for v in known], id=list_id) if known else None,
        ],
        className="try-field",
    )


def try_form(name: str, fields: list[dict[str, Any]]) -> list[Any]:
    form = [try_field(name, f) for f in fields]
    return [
        html.Div("Try it", className="group-title"),
        html.Div(form, className="try-form"),
        html.Button(
            "Score", id={"type": "try-go", "name": name}, n_clicks=0, className="btn primary"
        ),
        html.Div(id={"type": "try-result", "name": name}, className="try-result"),
    ]


def _endpoint(name: str, url: str, fields: list[dict[str, Any]]) -> list[Any]:
    endpoint = f"{url}/v1/models/{name}:predict"
    example = {f["name"]: f["example"] for f in fields}
    body = json.dumps({"instances": [example]})
    curl = f"curl -s -X POST {endpoint} -H 'Content-Type: application/json' -d '{body}'"
    return [
        html.Div([html.B("Endpoint "), html.Code(endpoint)], className="endpoint"),
        html.Div(
            [
                html.Pre(curl, className="code-view curl", id={"type": "curl", "name": name}),
                dcc.Clipboard(
                    target_id={"type": "curl", "name": name}, title="Copy", className="copy"
                ),
            ],
            className="curl-box",
        ),
    ]


def _summary(m: dict[str, Any]) -> html.Div:
    canary = f" · canary v{m['canary']} ({m['canary_percent']:g}%)" if m.get("canary") else ""
    shadow = f" · shadow v{m['shadow']} (mirrored, never answers)" if m.get("shadow") else ""
    return html.Div(
        [f"production v{m['production']}", canary, shadow, f" · {m['versions']} version(s)"],
        className="muted",
    )


COMPARISON_HEADERS = ("version", "role", "AUC", "KS", "logloss", "rows")
# a retrain's outcome in the colours of the stage (or run status) it led to
OUTCOME_CLASS = {
    "promoted": "st-production",
    "canary": "st-canary",
    "kept": "st-staging",
    "failed": "s-failed",
    "invalid": "s-failed",
    "interrupted": "s-interrupted",
    "running": "s-running",
}


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def retraining(studio: Studio, name: str) -> list[Any]:
    """The model's last retrain (what fired it, the decision and why) and its last comparison:
    champion and challenger side by side on held-out traffic (nothing when never retrained)."""
    from engine.challenger import Comparisons
    from engine.retrain import Retrains

    try:
        last = Retrains(studio.ws).history(name, limit=1)
        recorded = Comparisons(studio.ws).recorded(name) if last else []
    except Exception:  # a read-only store without the loop's tables: nothing to show
        logging.getLogger(__name__).info("no retrain records for %s", name, exc_info=True)
        return []
    if not last:
        return []
    rec = last[0]
    outcome = rec.get("decision") or rec["status"]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec["started_at"]))
    out: list[Any] = [
        html.H4("Last retrain"),
        html.Div(
            [
                html.Span(outcome, className=f"pill {OUTCOME_CLASS.get(outcome, '')}"),
                f" {when} · {rec['trigger']} · run {rec.get('run_id') or '–'}",
            ],
            className="muted",
        ),
        html.Div(rec.get("reason", ""), className="retrain-reason"),
    ]
    if recorded:
        comparison = recorded[0]
        w = comparison["window"]
        out.append(
            html.Div(
                f"Last comparison ({comparison['at'][:16].replace('T', ' ')} UTC): "
                f"{w['rows']} held-out labeled predictions, {w['chosen']}",
                className="muted",
            )
        )
        rows = [
            html.Tr(
                [
                    html.Td(f"v{version}"),
                    html.Td(m["role"]),
                    html.Td(_number(m.get("auc"))),
                    html.Td(_number(m.get("ks"))),
                    html.Td(_number(m.get("logloss"))),
                    html.Td(str(m.get("rows", ""))),
                ]
            )
            for version, m in comparison["versions"].items()
        ]
        out.append(
            html.Table(
                [
                    html.Thead(html.Tr([html.Th(h) for h in COMPARISON_HEADERS])),
                    html.Tbody(rows),
                ],
                className="grid comparison",
            )
        )
    return out


def _stage_controls(m: dict[str, Any]) -> html.Div:
    return html.Div(
        [
            _act(m["name"], m["production"], "rollback", "Roll back"),
            html.Span(" canary share % ", className="muted"),
            dcc.Input(
                id={"type": "canary-pct", "name": m["name"]},
                type="number",
                value=10,
                min=1,
                max=99,
                className="field tiny",
            ),
        ],
        className="row",
    )


def model_card(studio: Studio, registry: Any, m: dict[str, Any]) -> html.Div:
    versions = registry.show(m["name"]).get("versions", [])
    fields = try_it_fields(studio.ws, m["name"])
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in VERSION_HEADERS])),
            html.Tbody([version_row(m["name"], v) for v in versions]),
        ],
        className="grid",
    )
    return html.Div(
        [
            html.H3(m["name"]),
            _summary(m),
            table,
            _stage_controls(m),
            *retraining(studio, m["name"]),
            *_endpoint(m["name"], studio.scoring.url, fields),
            *try_form(m["name"], fields),
        ],
        className="card",
    )


def models_view(studio: Studio, scoring: ScoringService) -> Any:
    from engine.model_registry import ModelRegistry

    reg = ModelRegistry(studio.ws)
    models = reg.list_models()
    head = html.Div(
        [
            html.H2("Models"),
            html.Div(
                [
                    html.Span("Scoring service: "),
                    html.Span(scoring.status(), id="scoring-status", className="mono"),
                    html.Span(f"  {scoring.url}", className="mono muted"),
                ],
                className="muted",
            ),
        ]
    )
    if not models:
        return html.Div([head, html.Div(NO_MODELS, className="muted")])
    return html.Div([head, *(model_card(studio, reg, m) for m in models)])


def models_page(studio: Studio, page: str | None, _published: Any, _acted: Any) -> Any:
    if page != "models":
        return no_update
    return admin.guard(models_view(studio, studio.scoring))


def _do(reg: Any, name: str, version: int, act: str, pct: Any) -> tuple[str, str | None, int]:
    """Carry out a model action: (message, audit detail, version acted on)."""
    if act == "promote":
        reg.promote(name, version)
        return f"{name} v{version} is now in production.", None, version
    if act == "rollback":
        v = reg.rollback(name)
        return f"{name} rolled back to v{v}.", None, v
    share = float(pct or 10)
    reg.canary(name, version, share)
    return f"{name} v{version} gets {share:g}% of requests.", f"{share:g}%", version


def model_action(studio: Studio, trig: Trigger, _clicks: Any, pcts: list, pct_ids: list) -> tuple:
    """Outputs: a refresh of the models page, a toast."""
    from engine.model_registry import ModelRegistry, RegistryError

    if not trig.pattern:
        return no_update, no_update
    ws, name, act = studio.ws, trig.id["name"], trig.id["act"]
    auth.require(
        ws, act if act in ("promote", "rollback", "canary") else "admin-only", f"model.{act}"
    )
    if act not in ("promote", "rollback", "canary"):
        return no_update, no_update
    version = None
    try:
        version = int(trig.id["version"])
        pct = next((p for p, i in zip(pcts, pct_ids, strict=False) if i["name"] == name), 10)
        msg, detail, version = _do(ModelRegistry(ws), name, version, act, pct)
    except (RegistryError, ValueError) as exc:
        auth.audit(ws, f"model.{act}", "failed", model=name, version=version, detail=str(exc))
        return no_update, state.toast(str(exc), "error")
    auth.audit(ws, f"model.{act}", model=name, version=version, detail=detail)
    return time.time(), state.toast(msg)


def _value(v: Any, kind: str) -> Any:
    """A try-it field's text as the JSON value the service expects."""
    if v is None or v == "":
        return None
    if kind == "number":
        try:
            return float(v) if "." in str(v) or "e" in str(v).lower() else int(v)
        except ValueError:
            return v
    if kind == "bool":
        return str(v).lower() in ("true", "1", "yes")
    return v


def try_record(name: str, values: list, ids: list) -> dict[str, Any]:
    return {
        i["col"]: _value(v, i["kind"])
        for v, i in zip(values, ids, strict=False)
        if i["name"] == name
    }


def try_it(
    studio: Studio, trig: Trigger, _clicks: Any, values: list, ids: list, go_ids: list
) -> list:
    out: list[Any] = [no_update] * len(go_ids)
    if not trig.pattern:
        return out
    name = trig.id["name"]
    idx = next(k for k, g in enumerate(go_ids) if g["name"] == name)
    out[idx] = studio.scoring.try_predict(name, try_record(name, values, ids))
    # try-it may have started the service: the page's status line says so at once
    dash.set_props("scoring-status", {"children": studio.scoring.status()})
    return out


def layout() -> html.Div:
    return html.Div(id="models-page", className="page hidden")


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        models_page,
        Output("models-page", "children"),
        Input(state.PAGE, "data"),
        Input(state.PUBLISH_TARGET, "data"),
        Input(state.MODELS_ACTION, "data"),
    )
    server_callback(
        app,
        studio,
        model_action,
        Output(state.MODELS_ACTION, "data"),
        Output(state.TOAST, "data", allow_duplicate=True),
        Input({"type": "model-act", "name": ALL, "version": ALL, "act": ALL}, "n_clicks"),
        State({"type": "canary-pct", "name": ALL}, "value"),
        State({"type": "canary-pct", "name": ALL}, "id"),
        trigger=True,
        prevent_initial_call=True,
    )
    server_callback(
        app,
        studio,
        try_it,
        Output({"type": "try-result", "name": ALL}, "children"),
        Input({"type": "try-go", "name": ALL}, "n_clicks"),
        State({"type": "try-field", "name": ALL, "col": ALL, "kind": ALL}, "value"),
        State({"type": "try-field", "name": ALL, "col": ALL, "kind": ALL}, "id"),
        State({"type": "try-go", "name": ALL}, "id"),
        trigger=True,
        prevent_initial_call=True,
    )
