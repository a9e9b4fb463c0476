"""Plotly figures of an evaluate.binary report: several scored inputs on one chart."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

PALETTE = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2"]


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title=x,
        yaxis_title=y,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        height=300,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def roc(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        c = r["charts"]["roc"]
        fig.add_scatter(
            x=c["fpr"],
            y=c["tpr"],
            mode="lines",
            name=f"{name} (AUC {r['auc']:.4f})",
            line={"color": PALETTE[i % 6]},
        )
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#9ca3af"}, showlegend=False
    )
    return _layout(fig, "ROC curve", "false positive rate", "true positive rate")


def pr(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        c = r["charts"]["pr"]
        fig.add_scatter(
            x=c["recall"],
            y=c["precision"],
            mode="lines",
            name=f"{name} (AP {r['average_precision']:.4f})",
            line={"color": PALETTE[i % 6]},
        )
    return _layout(fig, "Precision–recall", "recall", "precision")


def ks(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        c = r["charts"]["ks"]
        gap = [t - f for t, f in zip(c["tpr"], c["fpr"], strict=False)]
        fig.add_scatter(
            x=c["threshold"],
            y=gap,
            mode="lines",
            name=f"{name} (KS {r['ks']:.4f})",
            line={"color": PALETTE[i % 6]},
        )
    fig.update_xaxes(autorange="reversed")
    return _layout(fig, "KS: TPR − FPR by threshold", "score threshold", "TPR − FPR")


def gain(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        d = r["charts"]["deciles"]
        fig.add_scatter(
            x=[0] + [x["decile"] * 10 for x in d],
            y=[0] + [x["cumulative_gain"] for x in d],
            mode="lines+markers",
            name=name,
            line={"color": PALETTE[i % 6]},
        )
    fig.add_scatter(
        x=[0, 100],
        y=[0, 1],
        mode="lines",
        line={"dash": "dot", "color": "#9ca3af"},
        showlegend=False,
    )
    return _layout(fig, "Cumulative gain", "% of rows (highest scores first)", "share of positives")


def lift(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        d = r["charts"]["deciles"]
        fig.add_bar(
            x=[x["decile"] for x in d],
            y=[x["lift"] for x in d],
            name=name,
            marker_color=PALETTE[i % 6],
        )
    return _layout(fig, "Lift by decile", "decile", "lift")


def calibration(reports: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for i, (name, r) in enumerate(reports.items()):
        d = r["charts"]["calibration"]
        fig.add_scatter(
            x=[b["mean_score"] for b in d],
            y=[b["observed_rate"] for b in d],
            mode="lines+markers",
            name=name,
            line={"color": PALETTE[i % 6]},
        )
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#9ca3af"}, showlegend=False
    )
    return _layout(fig, "Calibration", "mean predicted score", "observed positive rate")


def importance(report: dict[str, Any], name: str) -> go.Figure | None:
    fi = report.get("feature_importance")
    if not fi:
        return None
    top = fi[:20][::-1]
    key = "gain" if "gain" in top[0] else next(k for k in top[0] if k != "feature")
    fig = go.Figure(
        go.Bar(
            x=[f[key] for f in top],
            y=[f["feature"] for f in top],
            orientation="h",
            marker_color="#7c3aed",
        )
    )
    fig.update_layout(height=max(260, 18 * len(top) + 80))
    return _layout(fig, f"Feature importance ({key}) — {name}", key, "")


def confusion_at(report: dict[str, Any], threshold: float) -> dict[str, float]:
    """Confusion counts at a threshold: exact at the report's own threshold and on the 0.01
    grid the slider moves on; reports from before that grid use the nearest ROC point."""
    pos, n = report["positives"], report["rows"]
    neg = n - pos
    own = report.get("confusion")
    grid = report["charts"].get("thresholds")
    if own and abs(threshold - report.get("threshold", -1.0)) < 1e-9:
        used, tp, fp = threshold, own["tp"], own["fp"]
    elif grid:
        i = min(range(len(grid["threshold"])), key=lambda k: abs(grid["threshold"][k] - threshold))
        used, tp, fp = grid["threshold"][i], grid["tp"][i], grid["fp"][i]
    else:
        c = report["charts"]["roc"]
        i = min(range(len(c["threshold"])), key=lambda k: abs(c["threshold"][k] - threshold))
        used, tp, fp = c["threshold"][i], round(c["tpr"][i] * pos), round(c["fpr"][i] * neg)
    fn, tn = pos - tp, neg - fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": used,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / n if n else 0.0,
    }


def crosses(report: dict[str, Any]) -> go.Figure | None:
    """features.auto: the held-out AUC gain of each accepted cross, per held-out half."""
    accepted = report.get("accepted")
    if not accepted:
        return None
    names = [a["cross"] for a in accepted][::-1]
    fig = go.Figure()
    for i, half in enumerate(("half A", "half B")):
        fig.add_bar(
            x=[(a.get("gain_halves") or [a["gain"], a["gain"]])[i] for a in accepted][::-1],
            y=names,
            orientation="h",
            name=half,
            marker_color=PALETTE[i],
        )
    fig.update_layout(height=max(220, 34 * len(names) + 110), barmode="group")
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Held-out AUC gain of each accepted cross", "AUC gain", "")
