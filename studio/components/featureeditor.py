"""The feature editor: a wide dialog listing the columns that reach a features.extract (or
features.auto) node, with each column's type, missing share and distinct count from the stored
statistics of the upstream output, a kind per column pre-filled from its type and statistics,
crosses made by selecting columns, previews of bucket boundaries and vocabularies, and the
configuration as text for power users.

The server only answers "what is known about these columns" (``feature_profile``); the dialog
itself lives in the browser (assets/12_seer_feature_editor.js) and writes every edit straight
into the node's parameters on the canvas, so no edit waits for a round trip or can be lost."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, html, no_update

from studio import state
from studio.context import Studio, Trigger, clientside_callback, server_callback

FEATURE_OPS = {"features.extract": "features", "features.auto": "exclude"}
NUMBER_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
DATE_TYPES = ("date", "timestamp", "timestamp_ntz")
DISCRETE_NUMBERS = 12  # a number column with at most this many values reads as codes
IGNORE_MISSING = 0.95  # a column this empty carries little
NOT_RUN = (
    "{source} has not run yet: types come from the schema; run it (select it, then Run to "
    "here) to see missing shares, distinct counts and previews of buckets and values."
)


def base_type(t: str | None) -> str:
    return (t or "").split("(")[0].strip().lower()


def suggest(col: dict[str, Any]) -> dict[str, Any]:
    """A kind for one column from its type and statistics: numbers with few values and text
    are discrete, other numbers quantile buckets, dates date parts; near-empty columns and
    identifiers (every value distinct) are left out."""
    t = base_type(col.get("type"))
    distinct, sampled = col.get("distinct"), col.get("sampled")
    if (col.get("missing_share") or 0) > IGNORE_MISSING:
        return {"kind": "ignore", "why": "almost always missing"}
    if t in DATE_TYPES:
        return {"kind": "datetime", "parts": ["year", "month", "weekday"]}
    if t in NUMBER_TYPES:
        if distinct is not None and distinct <= DISCRETE_NUMBERS:
            return {"kind": "discrete"}
        return {"kind": "bucket", "buckets": 10}
    if t in ("string", "boolean"):
        if distinct and sampled and distinct >= 0.9 * sampled and distinct > 100:
            return {"kind": "ignore", "why": "an identifier: every value differs"}
        return {"kind": "discrete"}
    return {"kind": "ignore", "why": f"{t or 'unknown'} columns cannot be features"}


def _column(
    name: str, typ: str | None, stats: dict[str, Any] | None, rows: int, sampled: int = 0
) -> dict:
    col: dict[str, Any] = {"name": name, "type": typ or (stats or {}).get("type") or "?"}
    if stats:
        col["sampled"] = sampled
        col["type"] = stats.get("type") or col["type"]
        col["missing_share"] = stats["missing"] / rows if rows else 0.0
        for key in ("distinct", "min", "max", "mean", "top", "quantiles"):
            if stats.get(key) is not None:
                col[key] = stats[key]
        # the shape of the column: a number's histogram, else its most frequent values' counts
        counts = (stats.get("histogram") or {}).get("counts") or [
            t["count"] for t in (stats.get("top") or [])
        ]
        if counts:
            col["shape"] = counts
    col["suggested"] = suggest(col)
    return col


def _input_link(doc: dict[str, Any], node_id: str, port: str) -> dict[str, Any] | None:
    return next(
        (lk for lk in doc.get("links", []) if lk["target"] == node_id and lk["targetPort"] == port),
        None,
    )


def _upstream_stats(
    studio: Studio, doc: dict, meta: dict, link: dict, run_id: str | None
) -> tuple[dict[str, Any] | None, bool]:
    """The stored statistics of the output feeding the editor, and whether it is current."""
    from studio import identity

    found = identity.canvas_result(studio.ws, doc, meta, link["source"], run_id, studio.roots)
    out = (found.outputs if found else {}).get(link["sourcePort"]) or {}
    if out.get("type") != "table" or out.get("transient") or not out.get("path"):
        return None, False
    from engine.stats import table_stats

    try:
        return table_stats(out["path"]), bool(found and found.current)
    except (OSError, ValueError):  # the output was removed from disk
        return None, False


def profile(
    studio: Studio, doc: dict[str, Any], meta: dict[str, Any], node_id: str, run_id: str | None
) -> dict[str, Any]:
    """What the editor shows about the columns reaching node ``node_id``."""
    from studio.model import analyze, catalog, doc_to_flow
    from studio.runs import run_flow_path

    node = next((n for n in doc.get("nodes", []) if n["id"] == node_id), None)
    spec = catalog().get(node["op"]) if node else None
    if not node or not spec or node["op"] not in FEATURE_OPS:
        return {"node": node_id, "error": "Select a features.extract or features.auto node."}
    port = next((p["name"] for p in spec["inputs"] if p["type"] == "table"), "train")
    base = {"node": node_id, "op": node["op"], "param": FEATURE_OPS[node["op"]], "port": port}
    link = _input_link(doc, node_id, port)
    if link is None:
        return {**base, "columns": [], "error": f"Link a table to the node's {port} input first."}
    labels = {n["id"]: n.get("label") or n["id"] for n in doc.get("nodes", [])}
    source = f"“{labels.get(link['source'], link['source'])}” ({link['sourcePort']})"
    flow = doc_to_flow(doc, meta, run_flow_path(studio.ws, meta.get("file")))
    types = analyze(flow, studio.roots).input_types.get(node_id, {}).get(port, {})
    stats, current = _upstream_stats(studio, doc, meta, link, run_id)
    if stats is None:
        columns = [_column(n, t, None, 0) for n, t in types.items()]
        note = NOT_RUN.format(source=source)
        return {**base, "columns": columns, "source": "schema", "note": note}
    by_name = {c["name"]: c for c in stats["columns"]}
    names = list(types) or list(by_name)
    names += [n for n in by_name if n not in names and types]
    rows = stats.get("rows") or 0
    sampled = stats.get("sampled_rows") or rows
    columns = [_column(n, types.get(n), by_name.get(n), rows, sampled) for n in names]
    note = f"Statistics of {source}: {rows:,} rows."
    if not current:
        note += (
            " The flow changed since that run: run it again for figures of the data as it is now."
        )
    return {**base, "columns": columns, "source": "data", "rows": rows, "note": note}


def feature_profile(
    studio: Studio,
    trig: Trigger,
    _clicks: list,
    doc: dict | None,
    meta: dict | None,
    run_id: str | None,
) -> Any:
    """The editor's button was pressed: what is known about the node's input columns."""
    pid = trig.pattern
    if not pid:
        return no_update
    data = profile(studio, doc or {"nodes": [], "links": []}, meta or {}, pid["node"], run_id)
    return {**data, "param": data.get("param") or pid["name"]}


def layout() -> html.Div:
    """The dialog's frame; its body is drawn in the browser."""
    return html.Div(
        html.Div(
            [
                html.Div(id="fe-head", className="fe-head"),
                html.Div(id="fe-body", className="fe-body"),
                html.Div(id="fe-foot", className="fe-foot"),
            ],
            className="fe-dialog",
            role="dialog",
            **{"aria-label": "Feature editor", "aria-modal": "true"},
        ),
        id="feature-editor",
        className="fe-backdrop hidden",
    )


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        feature_profile,
        Output(state.FEATURE_PROFILE, "data"),
        Input({"type": "fedit", "node": ALL, "name": ALL}, "n_clicks"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        State(state.RUN_ID, "data"),
        trigger=True,
        prevent_initial_call=True,
    )
    clientside_callback(
        app, "openFeatureEditor", Input(state.FEATURE_PROFILE, "data"), prevent_initial_call=True
    )
