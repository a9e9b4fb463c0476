"""Live accuracy: logged predictions joined with the outcomes sent as feedback (the latest
feedback for a prediction wins), measured per window of the prediction's time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.monitoring import logs
from engine.monitoring.baseline import baseline
from engine.workspace import Workspace


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # average rank of each score
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def ks(y: np.ndarray, s: np.ndarray) -> float | None:
    """Largest gap between the positives' and negatives' score distributions."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.diff(ss) != 0, True]  # read the curves between distinct scores only
    tpr = np.cumsum(ys)[last] / pos
    fpr = np.cumsum(1 - ys)[last] / neg
    return float(np.max(np.abs(tpr - fpr)))


def logloss(y: np.ndarray, s: np.ndarray) -> float:
    p = np.clip(s, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def metrics(y: list[int], s: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"labeled": len(y)}
    if not y:
        return out
    ya, sa = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    a, k = auc(ya, sa), ks(ya, sa)
    if a is not None:
        out["auc"] = round(a, 6)
        out["ks"] = round(k, 6)
    out["logloss"] = round(logloss(ya, sa), 6)
    return out


def labeled_pairs(ws: Workspace, name: str, w: int, start: float, now: float) -> dict:
    """``(window start ISO, version, shadow) -> ([outcomes], [scores])`` for the predictions
    made since ``start`` that have feedback."""
    where = logs.folder(ws, name)
    labels: dict[str, Any] = {}
    for rec in logs.records(where, "feedback", start, now + logs.SLACK):
        if isinstance(rec.get("id"), str) and "label" in rec:
            labels[rec["id"]] = rec["label"]
    if not labels:
        return {}
    by_request: dict[str, list[tuple[int, Any]]] = {}
    for pid, label in labels.items():
        rid, _, index = pid.rpartition("/")
        if index.isdigit():
            by_request.setdefault(rid, []).append((int(index), label))
    found = logs.scores_of(where, set(by_request), start, now + 1)
    pairs: dict[tuple[str, Any, bool], tuple[list[int], list[float]]] = {}
    versions: dict[Any, Any] = {}
    for rid, rec in found.items():
        ts, preds = rec.get("ts"), rec.get("predictions")
        if not isinstance(ts, (int, float)) or ts < start or not isinstance(preds, list):
            continue
        version = rec.get("version")
        if version not in versions:
            versions[version] = baseline(ws, name, version)
        b = versions[version]
        if b is None:
            continue
        key = (logs.iso(math.floor(ts / w) * w), rec.get("version"), bool(rec.get("shadow")))
        ys, ss = pairs.setdefault(key, ([], []))
        for index, label in by_request[rid]:
            y = b.outcome(label)
            score = preds[index].get("score") if index < len(preds) else None
            if y is not None and isinstance(score, (int, float)):
                ys.append(y)
                ss.append(float(score))
    return pairs


def add_labeled(
    ws: Workspace, name: str, w: int, start: float, now: float, windows: list[dict]
) -> None:
    """Add labeled (and auc, ks, logloss once there are labels) to every window."""
    pairs = labeled_pairs(ws, name, w, start, now)
    for win in windows:
        ys, ss = pairs.get((win["start"], win["version"], win["shadow"]), ([], []))
        win.update(metrics(ys, ss))
