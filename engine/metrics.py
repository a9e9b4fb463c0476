"""Binary classification metrics and chart data (numpy only), checked against scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np

CURVE_POINTS = 200


def _sorted(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative true/false positives at each distinct score, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    ends = np.r_[distinct, len(y) - 1]
    tps = np.cumsum(y)[ends]
    fps = (ends + 1) - tps
    return tps.astype(float), fps.astype(float), s[ends], y


def auc(y: np.ndarray, s: np.ndarray) -> float:
    tps, fps, _, _ = _sorted(y, s)
    if tps[-1] == 0 or fps[-1] == 0:
        return float("nan")
    tpr = np.r_[0, tps / tps[-1]]
    fpr = np.r_[0, fps / fps[-1]]
    return float(np.trapezoid(tpr, fpr))


def _thin(*arrays: np.ndarray, points: int = CURVE_POINTS) -> list[list[float]]:
    n = len(arrays[0])
    if n <= points:
        idx = np.arange(n)
    else:
        idx = np.unique(np.r_[np.linspace(0, n - 1, points).round().astype(int), n - 1])
    return [[float(x) for x in a[idx]] for a in arrays]


def logloss(y: np.ndarray, s: np.ndarray) -> float:
    p = np.clip(s, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def confusion(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / len(y) if len(y) else 0.0,
    }


def binary_report(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    """Every metric and chart of the evaluation report for labels y (0/1) and scores s."""
    y = np.asarray(y, dtype=np.int8)
    s = np.asarray(s, dtype=float)
    n, pos = len(y), int(y.sum())
    if n == 0 or pos in (0, n):
        raise ValueError(
            f"evaluation needs both classes among the rows; got {n} rows with {pos} positive. "
            "Check the label and the rows that reach the evaluation."
        )
    tps, fps, thresholds, _ = _sorted(y, s)
    tpr = np.r_[0, tps / pos]
    fpr = np.r_[0, fps / (n - pos)]
    thr = np.r_[np.inf, thresholds]
    ks_i = int(np.argmax(tpr - fpr))
    ks = float(tpr[ks_i] - fpr[ks_i])
    ks_threshold = float(thr[ks_i]) if np.isfinite(thr[ks_i]) else float(thresholds[0])
    precision_curve = tps / (tps + fps)
    recall_curve = tps / pos
    ap = float(np.sum(np.diff(np.r_[0, recall_curve]) * precision_curve))
    roc_fpr, roc_tpr, roc_thr = _thin(fpr, tpr, np.where(np.isfinite(thr), thr, 1.0))
    pr_recall, pr_precision = _thin(recall_curve, precision_curve)

    deciles = _deciles(y, s, pos, n)
    calibration = _calibration(y, s)
    at = confusion(y, s, threshold)
    at_ks = confusion(y, s, ks_threshold)
    return {
        "rows": n,
        "positives": pos,
        "auc": float(np.trapezoid(tpr, fpr)),
        "average_precision": ap,
        "logloss": logloss(y, s),
        "ks": ks,
        "ks_threshold": ks_threshold,
        "threshold": float(threshold),
        "precision": at["precision"],
        "recall": at["recall"],
        "f1": at["f1"],
        "accuracy": at["accuracy"],
        "confusion": at,
        "at_ks_threshold": at_ks,
        "charts": {
            "roc": {"fpr": roc_fpr, "tpr": roc_tpr, "threshold": roc_thr},
            "pr": {"recall": pr_recall, "precision": pr_precision},
            "ks": {"threshold": roc_thr, "tpr": roc_tpr, "fpr": roc_fpr},
            "deciles": deciles,
            "calibration": calibration,
            "thresholds": _threshold_grid(y, s, pos, n),
        },
    }


def _deciles(y: np.ndarray, s: np.ndarray, pos: int, n: int) -> list[dict[str, Any]]:
    """Ten groups by score (highest first): rate, lift and cumulative gain."""
    order = np.argsort(-s, kind="mergesort")
    base = pos / n
    deciles, cum_pos, cum_n = [], 0, 0
    for k, g in enumerate(np.array_split(y[order], 10), 1):
        cum_pos += int(g.sum())
        cum_n += len(g)
        rate = float(g.mean()) if len(g) else 0.0
        deciles.append(
            {
                "decile": k,
                "rows": len(g),
                "positives": int(g.sum()),
                "rate": rate,
                "lift": rate / base,
                "cumulative_gain": cum_pos / pos,
                "cumulative_lift": (cum_pos / cum_n) / base,
            }
        )
    return deciles


def _calibration(y: np.ndarray, s: np.ndarray) -> list[dict[str, Any]]:
    """Ten equal-width bins of the predicted probability: mean score against observed rate."""
    bins = np.clip((s * 10).astype(int), 0, 9)
    return [
        {
            "bin": b,
            "rows": int(m.sum()),
            "mean_score": float(s[m].mean()),
            "observed_rate": float(y[m].mean()),
        }
        for b in range(10)
        if (m := bins == b).any()
    ]


def _threshold_grid(y: np.ndarray, s: np.ndarray, pos: int, n: int) -> dict[str, list[Any]]:
    """Exact counts of rows scored >= t on a 0.01 grid: the studio's threshold slider."""
    grid = np.round(np.linspace(0.0, 1.0, 101), 2)
    pos_scores, neg_scores = np.sort(s[y == 1]), np.sort(s[y == 0])
    tp_grid = pos - np.searchsorted(pos_scores, grid, side="left")
    fp_grid = (n - pos) - np.searchsorted(neg_scores, grid, side="left")
    return {
        "threshold": [float(t) for t in grid],
        "tp": [int(v) for v in tp_grid],
        "fp": [int(v) for v in fp_grid],
    }


def ks_threshold(y: np.ndarray, s: np.ndarray) -> float:
    """The score cut-off where TPR - FPR is largest (the KS-optimal threshold)."""
    y = np.asarray(y, dtype=np.int8)
    s = np.asarray(s, dtype=float)
    tps, fps, thresholds, _ = _sorted(y, s)
    pos, neg = tps[-1], fps[-1]
    if pos == 0 or neg == 0:
        return 0.5
    return float(thresholds[int(np.argmax(tps / pos - fps / neg))])


def score_baseline(scores: Any, buckets: int = 10) -> dict[str, Any]:
    """What a bundle keeps of its validation scores for score drift: the inner edges of their
    deciles (repeated edges dropped) and the number of scores in each bucket."""
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    if not len(s):
        return {"edges": [], "counts": [], "rows": 0}
    edges = np.unique(np.quantile(s, np.linspace(0, 1, buckets + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, s, side="right"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "rows": len(s)}
