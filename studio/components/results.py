"""The Output tab: the selected node's outputs from the latest run of this flow, one tab per
port (a table preview with column statistics, an evaluation, a model, a file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
from dash import ALL, Input, Output, State, dash_table, dcc, html

from studio import admin, charts, identity, state
from studio.components.evaluation import confusion, evaluation_view, model_view, reports_of
from studio.components.widgets import number
from studio.context import Studio, Trigger, server_callback

STAT_HEADERS = (
    "column",
    "type",
    "missing",
    "distinct",
    "min",
    "max",
    "mean",
    "distribution",
    "top values",
)
TRANSIENT = (
    "This output went to the next nodes without being saved (a run of `seer run` "
    "keeps only what is needed). Rerun the node here to see it."
)


def cell(v: Any) -> Any:
    """A value of a previewed table: floats rounded for reading, whole numbers as they are
    (ids and years read wrong with separators), the rest as text."""
    if v is None:
        return ""
    if isinstance(v, float):
        return number(v)
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, str)):
        return v
    return str(v)


def sparkline(counts: list[int]) -> Any:
    if not counts:
        return ""
    top = max(counts) or 1
    return html.Div(
        [
            html.Div(className="bar", style={"height": f"{max(1, round(22 * c / top))}px"})
            for c in counts[:30]
        ],
        className="spark",
    )


def _stats_row(c: dict[str, Any]) -> html.Tr:
    hist = c.get("histogram") or {}
    spark = sparkline(hist.get("counts") or [t["count"] for t in c.get("top", [])[:10]])
    top = ", ".join(f"{cell(t['value'])} ({t['count']:,})" for t in c.get("top", [])[:3])
    cells = [c["name"], c["type"], number(c["missing"]), number(c.get("distinct", ""))]
    cells += [cell(c.get("min")), cell(c.get("max")), number(c.get("mean"))]
    return html.Tr([*(html.Td(x) for x in cells), html.Td(spark), html.Td(top)])


def _grid(pv: dict[str, Any], nid: str) -> dash_table.DataTable:
    return dash_table.DataTable(
        data=[{k: cell(v) for k, v in r.items()} for r in pv["rows"]],
        columns=[{"name": f"{c['name']} ({c['type']})", "id": c["name"]} for c in pv["columns"]],
        page_size=10,
        style_table={"overflowX": "auto"},
        style_cell={
            "fontFamily": "Inter, system-ui, sans-serif",
            "fontSize": 12,
            "padding": "4px 8px",
            "maxWidth": 220,
            "overflow": "hidden",
            "textOverflow": "ellipsis",
        },
        style_header={"fontWeight": "600", "backgroundColor": "#f3f4f6"},
        id={"type": "preview", "node": nid},
    )


def table_view(out: dict[str, Any], nid: str) -> Any:
    from engine.stats import preview_rows, table_stats

    try:
        pv = preview_rows(out["path"], 50)
        st = table_stats(out["path"])
    except Exception as exc:  # an output removed from disk
        return html.Div(f"Cannot read this output: {exc}", className="error")
    head = html.Tr([html.Th(h) for h in STAT_HEADERS])
    return html.Div(
        [
            html.Div(
                f"{pv['total_rows']:,} rows × {len(pv['columns'])} columns; "
                f"first {len(pv['rows'])} shown",
                className="muted small",
            ),
            _grid(pv, nid),
            html.Div("Column statistics", className="group-title"),
            html.Table(
                [html.Thead(head), html.Tbody([_stats_row(c) for c in st["columns"]])],
                className="grid",
            ),
        ]
    )


def file_view(out: dict[str, Any]) -> Any:
    path = Path(out.get("path", ""))
    text = ""
    if path.is_file():
        text = path.read_text("utf-8")[:20000]
    elif path.is_dir():
        text = "\n".join(sorted(p.name for p in path.iterdir()))
        for f in ("manifest.json", "report.json", "transform.json"):
            if (path / f).exists():
                text = (path / f).read_text("utf-8")[:20000]
                break
    return html.Pre(text, className="code-view")


def report_view(out: dict[str, Any]) -> Any:
    """A node's report: features.auto's crosses as a chart and a table of their bucket
    boundaries, then the report itself."""
    import json

    try:
        report = json.loads(Path(out.get("path", "")).read_text("utf-8"))
    except (OSError, ValueError):
        return file_view(out)
    fig = charts.crosses(report) if isinstance(report, dict) else None
    if fig is None:
        return file_view(out)
    rows = [
        html.Tr(
            [
                html.Td(a["cross"]),
                html.Td(number(a["gain"])),
                html.Td(
                    "; ".join(
                        f"{m['column']}: {', '.join(number(b) for b in m['boundaries'])}"
                        for m in a.get("members", [])
                        if m.get("boundaries")
                    )
                ),
            ]
        )
        for a in report["accepted"]
    ]
    summary = (
        f"held-out AUC {number(report.get('base_auc'))} without crosses, "
        f"{number(report.get('final_auc'))} with them; {report.get('evaluations')} evaluations, "
        f"{report.get('stopped')}"
    )
    head = html.Tr([html.Th(h) for h in ("cross", "gain", "bucket boundaries")])
    return html.Div(
        [
            html.Div(summary, className="muted small"),
            dcc.Graph(figure=fig, config={"displaylogo": False}, className="chart"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="grid"),
            file_view(out),
        ]
    )


def _port_tabs(found: identity.NodeResult, port: str) -> Any:
    tabs = html.Div(
        [
            html.Button(
                p,
                id={"type": "port-tab", "port": p},
                n_clicks=0,
                className="btab" + (" active" if p == port else ""),
            )
            for p in found.outputs
        ]
        + [html.Span(f"run {found.run_id}", className="muted small")],
        className="btabs inner",
    )
    stale = identity.stale_notice(found)
    return tabs if stale is None else html.Div([stale, tabs])


def outputs_view(
    studio: Studio, found: identity.NodeResult | None, nid: str, port: str | None, labels: dict
) -> Any:
    if not found:
        return html.Div(
            f'"{nid}" has no outputs from this flow yet: run the flow (or Run to here).',
            className="muted",
        )
    if not found.outputs:
        return html.Div(f'"{nid}" has no outputs to show.', className="muted")
    port = port if port in found.outputs else next(iter(found.outputs))
    tabs = _port_tabs(found, port)
    out = found.outputs[port]
    kind = out.get("type")
    if kind == "table" and out.get("transient"):
        return [tabs, html.Div(TRANSIENT, className="muted")]
    if kind == "table":
        body = table_view(out, nid)
    elif kind == "metrics":
        body = evaluation_view(out, nid, labels)
    elif kind == "model":
        body = model_view(nid, out, found.current)
    elif kind == "report":
        body = report_view(out)
    else:
        body = file_view(out)
    return [tabs, body]


def node_labels(doc: dict | None) -> dict[str, str]:
    return {n["id"]: n.get("label") or n["id"] for n in (doc or {}).get("nodes", [])}


def output(
    studio: Studio,
    trig: Trigger,
    sel: dict | None,
    _done: Any,
    _tabs: Any,
    run_id: str | None,
    doc: dict | None,
    meta: dict | None,
) -> Any:
    port = trig.id["port"] if trig.is_type("port-tab") else None
    if not sel or sel.get("kind") != "node":
        return html.Div("Select a node to see its outputs from the latest run.", className="muted")
    nid = sel["id"]
    found = identity.canvas_result(studio.ws, doc, meta, nid, run_id, studio.roots)
    return admin.guard(outputs_view(studio, found, nid, port, node_labels(doc)))


def threshold(
    studio: Studio,
    values: list,
    ids: list,
    run_id: str | None,
    doc: dict | None,
    meta: dict | None,
) -> list:
    out = []
    for t, cid in zip(values, ids, strict=False):
        nid = cid["node"]
        found = identity.canvas_result(studio.ws, doc, meta, nid, run_id, studio.roots)
        reports = reports_of(found)
        out.append(confusion(reports, float(t or 0.5), node_labels(doc)) if reports else None)
    return out


def layout() -> html.Div:
    return html.Div(id="output", className="bpanel hidden")


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        output,
        Output("output", "children"),
        Input(state.SELECTION, "data"),
        Input(state.RUN_DONE, "data"),
        Input({"type": "port-tab", "port": ALL}, "n_clicks"),
        State(state.RUN_ID, "data"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        trigger=True,
    )
    server_callback(
        app,
        studio,
        threshold,
        Output({"type": "cm", "node": ALL}, "children"),
        Input({"type": "threshold", "node": ALL}, "value"),
        State({"type": "threshold", "node": ALL}, "id"),
        State(state.RUN_ID, "data"),
        State(state.DOC, "data"),
        State(state.META, "data"),
        prevent_initial_call=True,
    )
