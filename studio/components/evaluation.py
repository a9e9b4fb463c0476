"""An evaluation's results (metrics table, threshold slider with its confusion matrix, charts)
and a trained model's summary with its Publish button."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dash import dcc, html

from studio import charts, identity

CONFUSION_HEADERS = (
    "input",
    "threshold",
    "TP",
    "FP",
    "FN",
    "TN",
    "precision",
    "recall",
    "F1",
    "accuracy",
)
METRIC_HEADERS = ("input", "AUC", "KS", "logloss", "AP", "KS threshold", "rows", "positives")


def display_name(name: str, labels: dict[str, str]) -> str:
    """An evaluated input by the label its node has on the canvas (inputs are named by the
    node id they come from, possibly with a port: ``predict_2`` or ``predict_2.scored``)."""
    node, _, port = name.partition(".")
    label = labels.get(node)
    if label is None:
        return name
    return label if not port or port == "scored" else f"{label} ({port})"


def with_labels(reports: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {display_name(n, labels): r for n, r in reports.items()}


def reports_of(found: identity.NodeResult | None) -> dict[str, Any] | None:
    if not found:
        return None
    m = found.outputs.get("metrics")
    if not m:
        return None
    try:
        data = json.loads(Path(m["path"]).read_text("utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    return data.get("inputs") or None


def confusion(reports: dict[str, Any], t: float, labels: dict[str, str] | None = None) -> Any:
    rows = []
    for name, r in with_labels(reports, labels or {}).items():
        c = charts.confusion_at(r, t)
        cells = [name, f"{c['threshold']:.3f}"]
        cells += [f"{c[k]:,}" for k in ("tp", "fp", "fn", "tn")]
        cells += [f"{c[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy")]
        rows.append(html.Tr([html.Td(x) for x in cells]))
    head = html.Tr([html.Th(h) for h in CONFUSION_HEADERS])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="grid")


def slider_start(reports: dict[str, Any]) -> float:
    """Where the threshold slider starts: the first model's own cut-off on the slider's 0.01
    grid. The table below it is computed at that same value, so the two always agree."""
    first = next(iter(reports.values()))
    return round(float(first.get("threshold", 0.5)), 2)


def own_thresholds(reports: dict[str, Any]) -> html.Div:
    each = ", ".join(
        f"{n} {float(r['threshold']):.4f}" for n, r in reports.items() if "threshold" in r
    )
    return html.Div(f"Each model's own cut-off: {each}." if each else "", className="help")


def _metrics_row(name: str, r: dict[str, Any]) -> html.Tr:
    return html.Tr(
        [
            html.Td(name),
            html.Td(f"{r['auc']:.4f}", className="auc"),
            html.Td(f"{r['ks']:.4f}"),
            html.Td(f"{r['logloss']:.4f}"),
            html.Td(f"{r['average_precision']:.4f}"),
            html.Td(f"{r['ks_threshold']:.4f}"),
            html.Td(f"{r['rows']:,}"),
            html.Td(f"{r['positives']:,}"),
        ]
    )


def _charts(reports: dict[str, Any]) -> list[Any]:
    figs = [
        charts.roc(reports),
        charts.pr(reports),
        charts.ks(reports),
        charts.gain(reports),
        charts.lift(reports),
        charts.calibration(reports),
    ]
    graphs = [
        dcc.Graph(figure=f, config={"displaylogo": False, "responsive": True}, className="chart")
        for f in figs
    ]
    imps = [charts.importance(r, n) for n, r in reports.items()]
    graphs += [
        dcc.Graph(figure=f, config={"displaylogo": False}, className="chart")
        for f in imps
        if f is not None
    ]
    return graphs


def evaluation_view(out: dict[str, Any], nid: str, labels: dict[str, str]) -> Any:
    try:
        data = json.loads(Path(out["path"]).read_text("utf-8"))
    except (OSError, ValueError):
        return html.Div("The evaluation report could not be read.", className="error")
    raw = data.get("inputs") or {}
    if not raw:
        return html.Pre(json.dumps(data, indent=1)[:5000])
    reports = with_labels(raw, labels)
    t = slider_start(reports)
    return html.Div(
        [
            html.Table(
                [
                    html.Thead(html.Tr([html.Th(h) for h in METRIC_HEADERS])),
                    html.Tbody([_metrics_row(n, r) for n, r in reports.items()]),
                ],
                className="grid metrics",
                id="eval-metrics",
            ),
            html.Div(
                [
                    html.Span("Threshold", className="plabel"),
                    dcc.Slider(
                        id={"type": "threshold", "node": nid},
                        min=0,
                        max=1,
                        step=0.01,
                        value=t,
                        marks={0: "0", 0.25: "0.25", 0.5: "0.5", 0.75: "0.75", 1: "1"},
                        tooltip={"placement": "bottom"},
                    ),
                    html.Div(confusion(reports, t), id={"type": "cm", "node": nid}),
                    own_thresholds(reports),
                ],
                className="threshold",
            ),
            html.Div(_charts(reports), className="charts"),
        ]
    )


def _trials_table(trials: list[Any]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Td(t.get("name")),
                html.Td(f"{t.get('valid_auc', 0):.4f}"),
                html.Td(str(t.get("rounds", ""))),
                html.Td(f"{t.get('seconds', 0):.2f}"),
            ]
        )
        for t in trials
        if isinstance(t, dict)
    ]
    head = html.Tr([html.Th(h) for h in ("trial", "validation AUC", "rounds", "seconds")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="grid")


def model_view(nid: str, out: dict[str, Any], current: bool = True) -> Any:
    path = Path(out["path"])
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        manifest = {}
    fields = manifest.get("input_schema") or []
    summary: list[Any] = [
        html.Div(
            [
                html.B("Model: "),
                manifest.get("model_type", "?"),
                f" · label {manifest.get('label')}",
                f" · threshold {manifest.get('threshold', 0):.4f}",
            ]
        ),
        html.Div([html.B("Inputs: "), ", ".join(f["name"] for f in fields)], className="small"),
    ]
    tuning = manifest.get("tuning") or []
    trials = tuning.get("trials", []) if isinstance(tuning, dict) else tuning
    if trials:
        summary.append(_trials_table(trials))
    publish = (
        [
            html.Button(
                "Publish…", id={"type": "publish", "node": nid}, n_clicks=0, className="btn primary"
            ),
            html.Span(" registers this model and serves it (Models page).", className="muted"),
        ]
        if current
        else [html.Div("Run the flow again to publish the model the canvas describes.")]
    )
    return html.Div([*publish, *summary])
