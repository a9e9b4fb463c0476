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


DDL = (
    """CREATE TABLE IF NOT EXISTS monitoring_labels (
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    version TEXT NOT NULL,
    shadow INTEGER NOT NULL,
    outcome INTEGER NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (model, id)
)""",
    "CREATE INDEX IF NOT EXISTS monitoring_labels_ts ON monitoring_labels (model, ts)",
    """CREATE TABLE IF NOT EXISTS monitoring_feedback_read (
    model TEXT NOT NULL,
    file TEXT NOT NULL,
    offset_bytes BIGINT NOT NULL,
    PRIMARY KEY (model, file)
)""",
)


def _new_feedback(ws: Workspace, name: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Feedback written since the last reading: ``id -> label`` (the latest wins) and each
    file's new read offset (only whole lines are read)."""
    read = {
        r["file"]: int(r["offset_bytes"])
        for r in ws.store.query(
            "SELECT file, offset_bytes FROM monitoring_feedback_read WHERE model = ?", (name,)
        )
    }
    labels: dict[str, Any] = {}
    offsets: dict[str, int] = {}
    for path in sorted(logs.folder(ws, name).glob("feedback-*.jsonl")):
        start = read.get(path.name, 0)
        try:
            size = path.stat().st_size
            if size < start:  # cut back or replaced: read it again
                start = 0
            if size == start:
                continue
            with path.open("rb") as f:
                f.seek(start)
                data = f.read(size - start)
        except OSError:
            continue
        cut = data.rfind(b"\n") + 1
        lines = [line for line in data[:cut].split(b"\n") if line.strip()]
        for rec in logs.parse(lines):
            if isinstance(rec, dict) and isinstance(rec.get("id"), str) and "label" in rec:
                labels[rec["id"]] = rec["label"]
        offsets[path.name] = start + cut
    return labels, offsets


def _joined(ws: Workspace, name: str, labels: dict[str, Any]) -> list[tuple]:
    """(model, id, ts, version, shadow, outcome, score) of each labeled prediction found."""
    by_request: dict[str, list[tuple[str, int, Any]]] = {}
    for pid, label in labels.items():
        rid, _, index = pid.rpartition("/")
        if index.isdigit():
            by_request.setdefault(rid, []).append((pid, int(index), label))
    found = logs.find_predictions(logs.folder(ws, name), set(by_request))
    versions: dict[Any, Any] = {}
    rows = []
    for rid, rec in found.items():
        ts, preds, version = rec.get("ts"), rec.get("predictions"), rec.get("version")
        if not isinstance(ts, (int, float)) or not isinstance(preds, list):
            continue
        if version not in versions:
            versions[version] = baseline(ws, name, version)
        b = versions[version]
        if b is None:
            continue
        for pid, index, label in by_request[rid]:
            y = b.outcome(label)
            p = preds[index] if index < len(preds) else None
            score = p.get("score") if isinstance(p, dict) else None
            if y is not None and isinstance(score, (int, float)):
                rows.append((name, pid, ts, str(version), int(bool(rec.get("shadow"))), y, score))
    return rows


def sync_labels(ws: Workspace, name: str) -> None:
    """Join the feedback written since the last call with its predictions and keep the
    pairs in the store (``monitoring_labels``; a newer label for a prediction replaces the
    older one)."""
    store = ws.store
    with store.transaction() as conn:
        for ddl in DDL:
            conn.execute(ddl)
    labels, offsets = _new_feedback(ws, name)
    if not offsets:
        return
    rows = _joined(ws, name, labels) if labels else []
    with store.transaction() as conn:
        sql = store._sql(
            "INSERT INTO monitoring_labels (model, id, ts, version, shadow, outcome, score) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, id) DO UPDATE SET "
            "outcome = excluded.outcome"
        )
        if rows:
            conn.executemany(sql, rows) if store.dialect == "sqlite" else _each(conn, sql, rows)
        for file, offset in offsets.items():
            conn.execute(
                store._sql(
                    "INSERT INTO monitoring_feedback_read (model, file, offset_bytes) "
                    "VALUES (?, ?, ?) ON CONFLICT (model, file) DO UPDATE SET "
                    "offset_bytes = excluded.offset_bytes"
                ),
                (name, file, offset),
            )


def _each(conn: Any, sql: str, rows: list[tuple]) -> None:
    with conn.cursor() as cur:
        cur.executemany(sql, rows)


def _version(text: str) -> Any:
    return int(text) if text.isdigit() else text


def labeled_pairs(ws: Workspace, name: str, w: int, start: float) -> dict:
    """``(window start ISO, version, shadow) -> ([outcomes], [scores])`` of the predictions
    made since ``start`` that have feedback."""
    sync_labels(ws, name)
    store = ws.store
    rows = (
        store._conn()
        .execute(
            store._sql(
                "SELECT ts, version, shadow, outcome, score FROM monitoring_labels "
                "WHERE model = ? AND ts >= ?"
            ),
            (name, start),
        )
        .fetchall()
    )
    pairs: dict[tuple[str, Any, bool], tuple[list[int], list[float]]] = {}
    names: dict[tuple[float, str, int], tuple[str, Any, bool]] = {}
    for r in rows:
        ts, version, shadow, outcome, score = (r[k] for k in _COLUMNS) if _named(r) else r
        at = (math.floor(ts / w) * w, version, shadow)
        key = names.get(at)
        if key is None:
            key = names[at] = (logs.iso(at[0]), _version(version), bool(shadow))
        ys, ss = pairs.setdefault(key, ([], []))
        ys.append(outcome)
        ss.append(score)
    return pairs


_COLUMNS = ("ts", "version", "shadow", "outcome", "score")


def _named(row: Any) -> bool:
    return isinstance(row, dict)


def add_labeled(ws: Workspace, name: str, w: int, start: float, windows: list[dict]) -> None:
    """Add labeled (and auc, ks, logloss once there are labels) to every window."""
    pairs = labeled_pairs(ws, name, w, start)
    for win in windows:
        ys, ss = pairs.get((win["start"], win["version"], win["shadow"]), ([], []))
        win.update(metrics(ys, ss))
