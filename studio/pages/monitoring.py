"""The Monitoring page: a published model's traffic and latency over time, its score
distribution against training, input drift (columns sorted by PSI, each with its training and
live histograms side by side), live AUC against the validation AUC, and its alerts.

The numbers are engine.monitoring's — the same as GET /v1/models/NAME/monitoring and
`seer models monitor NAME` — computed from the scoring service's request log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update

from studio import admin, state
from studio.context import Studio, server_callback

WINDOWS = ["15m", "1h", "6h", "1d"]
NO_MODELS = "No published models yet: publish a model, serve it, and its traffic shows here."
BLUE, PINK, GREY, RED = "#2563eb", "#db2777", "#9ca3af", "#dc2626"


def _fig(title: str, height: int = 260) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 50, "r": 10, "t": 36, "b": 30},
        height=height,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _graph(fig: go.Figure, gid: str) -> dcc.Graph:
    return dcc.Graph(figure=fig, id=gid, config={"displayModeBar": False}, className="mon-chart")


def _time_axis(fig: go.Figure, windows: list[dict[str, Any]], seconds: int) -> None:
    """Windows on a time axis, a window of room either side (one window is not a blur of
    milliseconds)."""
    if not windows:
        return
    first = dt.datetime.fromisoformat(windows[0]["start"].replace("Z", "+00:00"))
    last = dt.datetime.fromisoformat(windows[-1]["start"].replace("Z", "+00:00"))
    pad = dt.timedelta(seconds=seconds)
    fig.update_layout(xaxis={"type": "date", "range": [first - pad / 2, last + pad * 1.5]})


def _middles(windows: list[dict[str, Any]], seconds: int) -> list[str]:
    half = dt.timedelta(seconds=seconds / 2)
    return [
        (dt.datetime.fromisoformat(w["start"].replace("Z", "+00:00")) + half).isoformat()
        for w in windows
    ]


def traffic_chart(windows: list[dict[str, Any]], seconds: int) -> go.Figure:
    fig = _fig("Traffic and latency")
    x = _middles(windows, seconds)
    width = seconds * 1000 * 0.8
    answered = [w["requests"] - w["errors"] for w in windows]
    fig.add_bar(x=x, y=answered, width=width, name="answered", marker_color=BLUE)
    errors = [w["errors"] for w in windows]
    fig.add_bar(x=x, y=errors, width=width, name="errors (4xx/5xx)", marker_color=RED)
    for key, dash_ in (("p50", "solid"), ("p99", "dot")):
        fig.add_scatter(
            x=x,
            y=[w["latency_ms"][key] for w in windows],
            name=f"{key} ms",
            yaxis="y2",
            mode="lines+markers",
            line={"color": PINK, "dash": dash_},
        )
    fig.update_layout(
        barmode="stack",
        yaxis={"title": "requests"},
        yaxis2={"title": "latency ms", "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    _time_axis(fig, windows, seconds)
    return fig


def _pair_chart(title: str, pair: dict[str, Any], height: int) -> go.Figure:
    fig = _fig(title, height)
    fig.add_bar(x=pair["labels"], y=pair["expected"], name="training", marker_color=GREY)
    fig.add_bar(x=pair["labels"], y=pair["actual"], name="live", marker_color=BLUE)
    fig.update_layout(barmode="group", yaxis={"title": "share", "tickformat": ".0%"})
    return fig


def score_chart(win: dict[str, Any] | None) -> go.Figure | None:
    pair = (win or {}).get("detail", {}).get("score")
    if not pair:
        return None
    pair = {k: v[:-1] for k, v in pair.items()}  # a score is never missing
    title = f"Score distribution against training (PSI {win['score_psi']:.3f})"
    fig = _pair_chart(title, pair, 280)
    fig.update_layout(xaxis={"tickfont": {"size": 9}}, margin={"b": 70}, legend={"y": -0.4})
    return fig


def auc_chart(windows: list[dict[str, Any]], valid_auc: float | None, seconds: int) -> go.Figure:
    fig = _fig("Live AUC (predictions with feedback)")
    labeled = [w for w in windows if w.get("auc") is not None]
    fig.add_scatter(
        x=_middles(labeled, seconds),
        y=[w["auc"] for w in labeled],
        text=[f"{w['labeled']} labeled" for w in labeled],
        name="live AUC",
        mode="lines+markers",
        line={"color": BLUE},
    )
    if valid_auc is not None:
        fig.add_hline(
            y=valid_auc,
            line={"color": GREY, "dash": "dash"},
            annotation_text=f"validation AUC {valid_auc:.3f}",
            annotation_position="top left",
        )
    fig.update_layout(yaxis={"title": "AUC", "range": [0, 1]})
    _time_axis(fig, windows, seconds)
    return fig


def drift_table(win: dict[str, Any] | None, threshold: float) -> html.Div:
    """Input columns sorted by PSI, each with its training and live histograms."""
    if not win or not win["features"]:
        notes = (win or {}).get("detail", {}).get("notes") or ["no scored rows in this window"]
        return html.Div(notes[0], className="muted")
    order = sorted(win["features"].items(), key=lambda kv: -kv[1]["psi"])
    rows = []
    for col, d in order:
        pair = win["detail"]["features"].get(col)
        badge = "pill drift-high" if d["psi"] > threshold else "pill drift-ok"
        chart = _pair_chart("", pair, 150) if pair else None
        if chart is not None:
            chart.update_layout(
                margin={"l": 40, "r": 10, "t": 6, "b": 24},
                showlegend=False,
                xaxis={"tickfont": {"size": 9}},
            )
        rows.append(
            html.Tr(
                [
                    html.Td(col, className="mono drift-col"),
                    html.Td(html.Span(f"{d['psi']:.3f}", className=badge), className="drift-psi"),
                    html.Td("" if d.get("ks") is None else f"{d['ks']:.3f}"),
                    html.Td(
                        dcc.Graph(figure=chart, config={"displayModeBar": False}) if chart else ""
                    ),
                ],
                className="drift-row",
            )
        )
    head = html.Thead(html.Tr([html.Th(h) for h in ("column", "PSI", "KS", "training ▮ live ▮")]))
    return html.Table([head, html.Tbody(rows)], className="grid drift-table", id="drift-table")


def alerts_list(alerts: list[dict[str, Any]]) -> Any:
    if not alerts:
        return html.Div("No alerts.", className="muted", id="monitoring-alerts")
    head = ("time", "version", "kind", "measure", "value", "threshold", "window", "webhook")
    rows = [
        html.Tr(
            [
                html.Td(a["time"].replace("T", " ").rstrip("Z")),
                html.Td(f"v{a['version']}"),
                html.Td(html.Span(a["kind"], className="pill alert-kind")),
                html.Td(a["measure"], className="mono"),
                html.Td(f"{a['value']:.4g}"),
                html.Td(f"{a['threshold']:.4g}"),
                html.Td(a["window"]["start"].replace("T", " ").rstrip("Z")),
                html.Td(a["delivery"]["status"]),
            ],
            className="alert-row",
        )
        for a in alerts
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="grid",
        id="monitoring-alerts",
    )


def _served(windows: list[dict[str, Any]], production: Any) -> list[dict[str, Any]]:
    """The production version's windows (shadow versions never mixed in)."""
    return [w for w in windows if not w["shadow"] and w["version"] == production]


def _summary(win: dict[str, Any] | None, valid_auc: float | None) -> html.Div:
    if win is None:
        return html.Div("No logged requests in these windows yet.", className="muted")
    live = "-" if win.get("auc") is None else f"{win['auc']:.3f}"
    valid = "" if valid_auc is None else f" (validation {valid_auc:.3f})"
    parts = [
        f"latest window {win['start'].replace('T', ' ').rstrip('Z')} UTC",
        f"{win['requests']} requests",
        f"{win['errors']} errors",
        f"p99 {win['latency_ms']['p99'] or 0:.1f} ms",
        f"{win['labeled']} labeled",
        f"live AUC {live}{valid}",
    ]
    return html.Div(" · ".join(parts), className="muted", id="monitoring-summary")


def model_view(studio: Studio, name: str, window: str) -> Any:
    from engine.model_registry import ModelRegistry
    from engine.monitoring.baseline import baseline
    from engine.monitoring.policy import WatchPolicies, window_seconds
    from engine.monitoring.windows import monitoring

    route = ModelRegistry(studio.ws).route(name)
    if route is None:
        return html.Div(f'"{name}" is not published.', className="muted")
    doc = monitoring(studio.ws, name, window, detail=True)
    seconds = window_seconds(window)
    windows = _served(doc["windows"], route.production)
    b = baseline(studio.ws, name, route.production)
    valid_auc = b.valid_auc if b else None
    latest = next((w for w in reversed(windows) if w.get("rows")), None)
    rules = WatchPolicies(studio.ws).get(name).alerts
    score = score_chart(latest)
    return html.Div(
        [
            _summary(latest, valid_auc),
            html.Div(
                [
                    _graph(traffic_chart(windows, seconds), "mon-traffic"),
                    _graph(auc_chart(windows, valid_auc, seconds), "mon-auc"),
                ],
                className="mon-row",
            ),
            html.Div(
                [
                    _graph(score, "mon-score")
                    if score
                    else html.Div(
                        "score drift: " + "; ".join(b.notes if b else []), className="muted"
                    ),
                    html.Div(
                        [html.H3("Alerts"), alerts_list(doc["alerts"])], className="mon-alerts"
                    ),
                ],
                className="mon-row",
            ),
            html.H3(f"Drift of the inputs (PSI alert above {rules.psi:g}), latest window"),
            drift_table(latest, rules.psi),
        ]
    )


def monitoring_models(studio: Studio, page: str | None, current: str | None) -> tuple:
    """The model picker's choices when the page shows."""
    from engine.model_registry import ModelRegistry

    if page != "monitoring":
        return no_update, no_update
    names = [r.name for r in ModelRegistry(studio.ws).routes()]
    value = current if current in names else (names[0] if names else None)
    return [{"label": n, "value": n} for n in names], value


def monitoring_view(studio: Studio, name: str | None, window: str | None, page: str | None) -> Any:
    if page != "monitoring":
        return no_update
    if not name:
        return html.Div(NO_MODELS, className="muted")
    return admin.guard(model_view(studio, name, window or "1h"))


def layout() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Monitoring"),
                    dcc.Dropdown(id="monitoring-model", clearable=False, className="mon-pick"),
                    dcc.Dropdown(
                        id="monitoring-window",
                        options=[{"label": f"{w} windows", "value": w} for w in WINDOWS],
                        value="1h",
                        clearable=False,
                        className="mon-pick small",
                    ),
                ],
                className="mon-head",
            ),
            dcc.Loading(html.Div(id="monitoring-body"), type="dot"),
        ],
        id="monitoring-page",
        className="page hidden",
    )


def register(app: dash.Dash, studio: Studio) -> None:
    server_callback(
        app,
        studio,
        monitoring_models,
        Output("monitoring-model", "options"),
        Output("monitoring-model", "value"),
        Input(state.PAGE, "data"),
        State("monitoring-model", "value"),
    )
    server_callback(
        app,
        studio,
        monitoring_view,
        Output("monitoring-body", "children"),
        Input("monitoring-model", "value"),
        Input("monitoring-window", "value"),
        Input(state.PAGE, "data"),
    )
