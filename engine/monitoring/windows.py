"""Monitoring windows of a model, per version: traffic, errors, latency, score and input drift,
and — once feedback arrives — the live AUC, KS and logloss.

Everything is derived from the service's request log (engine.monitoring.logs), never from
the service's memory, so the answer is the same after a restart. A window closes
``GRACE`` seconds after its end (the log writer has written everything by then); the
request-side aggregates of closed windows are rolled up once into the workspace store
(``monitoring_windows``; ``monitoring_rollup`` remembers how far) and only the open windows
are read from the log on each question. The labeled measures are joined with the feedback
on every question (feedback for an old prediction may arrive at any time).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import operator
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from engine.monitoring import live, logs
from engine.monitoring.baseline import Baseline, baseline
from engine.monitoring.drift import drift
from engine.monitoring.logs import iso
from engine.monitoring.policy import window_seconds
from engine.monitoring.records import list_alerts
from engine.workspace import Workspace

GRACE = 60.0
DEFAULT_WINDOWS = 24  # without ?since=, the last 24 windows

DDL = (
    """CREATE TABLE IF NOT EXISTS monitoring_windows (
    model TEXT NOT NULL,
    window_s INTEGER NOT NULL,
    start DOUBLE PRECISION NOT NULL,
    version TEXT NOT NULL,
    shadow INTEGER NOT NULL,
    doc_json TEXT NOT NULL,
    PRIMARY KEY (model, window_s, start, version, shadow)
)""",
    """CREATE TABLE IF NOT EXISTS monitoring_rollup (
    model TEXT NOT NULL,
    window_s INTEGER NOT NULL,
    through DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (model, window_s)
)""",
)


class MonitoringError(ValueError):
    """A monitoring question that cannot be answered as asked (bad window or since)."""


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})" + "?"
)
_WINDOW = re.compile(r"[1-9][0-9]{0,3}[mhd]")


def parse_since(text: str | None, strict: bool = False) -> float | None:
    """An ISO 8601 time (RFC 3339: date, time to the second, offset; UTC without an offset
    unless ``strict``) as a timestamp; None for none."""
    if text is None or text == "":
        return None
    m = _RFC3339.fullmatch(text if strict else text.strip())
    when = None
    if m and (m.group(5) or not strict):
        clean = m.group(0)[:10] + "T" + m.group(0)[11:]
        clean = clean.upper().replace("Z", "+00:00")
        if m.group(3) == "60":  # a leap second: the second before
            clean = clean[:17] + "59" + clean[19:]
        try:
            when = dt.datetime.fromisoformat(clean)
        except ValueError:
            when = None
    if when is None:
        raise MonitoringError(
            f'since "{text[:60]}" is not an ISO 8601 time: write e.g. 2026-05-01T00:00:00Z'
            + ("." if strict else " (UTC when no offset is given).")
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp())


def parse_window(text: str | None, strict: bool = False) -> int:
    """A window's length in seconds (``strict``: exactly as the OpenAPI description says)."""
    from engine.monitoring.policy import PolicyError

    if strict and text is not None and not _WINDOW.fullmatch(text):
        raise MonitoringError(
            f'Window "{text[:40]}" is not a duration: write a whole number from 1 to 9999 and a '
            'unit, m (minutes), h (hours) or d (days), e.g. "1h" or "15m".'
        )
    try:
        return window_seconds(text or "1h")
    except PolicyError as exc:
        raise MonitoringError(str(exc)) from None


# -- aggregating log records ---------------------------------------------------------------
Key = tuple[float, Any, bool]  # (window start, version, shadow)


def _group(recs: Iterable[dict], w: int) -> dict[Key, list[dict]]:
    groups: dict[Key, list[dict]] = {}
    for rec in recs:
        key = (math.floor(rec["ts"] / w) * w, rec.get("version"), bool(rec.get("shadow")))
        groups.setdefault(key, []).append(rec)
    return groups


def _columns(instances: list[dict], names: list[str]) -> dict[str, Any]:
    """The instances' values column by column (the service logs each instance's inputs in
    the model's column order, so one C-level lookup per instance usually does)."""
    if not names:
        return {}
    getter = operator.itemgetter(*names)
    try:
        rows = list(map(getter, instances))
    except KeyError:
        return {n: [i.get(n) for i in instances] for n in names}
    if len(names) == 1:
        return {names[0]: rows}
    return dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}


class _Window:
    """One window's running aggregates (records are added chunk by chunk)."""

    def __init__(self, key: Key, w: int, b: Baseline | None):
        self.key, self.w, self.b = key, w, b
        self.requests = self.rows = self.errors = 0
        self.latency: list[float] = []
        self.score: list[int] | None = None
        self.features: dict[str, list[int]] = {}

    def _latencies(self, recs: list[dict]) -> None:
        self.latency += [
            r["latency_ms"] for r in recs if isinstance(r.get("latency_ms"), (int, float))
        ]

    def add_errors(self, recs: list[dict]) -> None:
        self.requests += len(recs)
        self.errors += len(recs)
        self._latencies(recs)

    def add_predictions(self, recs: list[dict]) -> None:
        self.requests += len(recs)
        self._latencies(recs)
        instances = [i for r in recs for i in (r.get("instances") or ()) if isinstance(i, dict)]
        self.rows += len(instances)
        b = self.b
        if b is None or not recs:
            return
        if b.score is not None:
            scores = [p.get("score") for r in recs for p in (r.get("predictions") or ()) if p]
            self.score = _add(self.score, b.score.count(scores))
        columns = _columns(instances, list(b.columns))
        for col, buckets in b.columns.items():
            self.features[col] = _add(self.features.get(col), buckets.count(columns[col]))

    def doc(self) -> dict[str, Any]:
        start, version, shadow = self.key
        latency = None
        if self.latency:
            p50, p99 = np.percentile(np.asarray(self.latency, dtype=float), [50, 99])
            latency = {"p50": round(float(p50), 3), "p99": round(float(p99), 3)}
        return {
            "start": start,
            "end": start + self.w,
            "version": version,
            "shadow": shadow,
            "requests": self.requests,
            "rows": self.rows,
            "errors": self.errors,
            "latency_ms": latency,
            "score": self.score,
            "features": self.features,
        }


def _add(total: list[int] | None, counts: list[int]) -> list[int]:
    return counts if total is None else [a + b for a, b in zip(total, counts, strict=True)]


@contextmanager
def _no_gc() -> Iterator[None]:
    """Parsing a log makes millions of small objects and no cycles: the cyclic collector would
    only rescan them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def aggregate(ws: Workspace, name: str, w: int, start: float, end: float) -> list[dict]:
    """Request-side aggregates of the windows with records in [start, end)."""
    where = logs.folder(ws, name)
    windows: dict[Key, _Window] = {}
    baselines: dict[Any, Baseline | None] = {}

    def window(key: Key) -> _Window:
        if key not in windows:
            version = key[1]
            if version not in baselines:
                baselines[version] = baseline(ws, name, version) if version is not None else None
            windows[key] = _Window(key, w, baselines[version])
        return windows[key]

    with _no_gc():
        for chunk in logs.chunks(where, "predictions", start, end):
            for key, recs in _group(chunk, w).items():
                window(key).add_predictions(recs)
        for chunk in logs.chunks(where, "errors", start, end):
            for key, recs in _group(chunk, w).items():
                window(key).add_errors(recs)
    return [win.doc() for win in windows.values()]


# -- the roll-up of closed windows -----------------------------------------------------------
def _tables(ws: Workspace) -> None:
    with ws.store.transaction() as conn:
        for ddl in DDL:
            conn.execute(ddl)


def roll_up(ws: Workspace, name: str, w: int, now: float) -> float:
    """Roll up every closed window not yet in the store; returns where the open part begins."""
    store = ws.store
    # only the clock closes a window for good (a ``now`` in the future reads, never stores)
    closed_end = math.floor((min(now, time.time()) - GRACE) / w) * w
    rows = store.query(
        "SELECT through FROM monitoring_rollup WHERE model = ? AND window_s = ?", (name, w)
    )
    if rows:
        through = float(rows[0]["through"])
    else:
        first = logs.first_day(logs.folder(ws, name))
        through = closed_end if first is None else math.floor((first - logs.SLACK) / w) * w
    step = max(w, math.ceil(logs.DAY / w) * w)  # about a day of records at a time
    while through < closed_end:
        upto = min(closed_end, through + step)
        docs = aggregate(ws, name, w, through, upto)
        with store.transaction() as conn:
            for doc in docs:
                conn.execute(
                    store._sql(
                        "INSERT INTO monitoring_windows (model, window_s, start, version, "
                        "shadow, doc_json) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                    ),
                    (name, w, doc["start"], str(doc["version"]), int(doc["shadow"]), _dump(doc)),
                )
            conn.execute(
                store._sql(
                    "INSERT INTO monitoring_rollup (model, window_s, through) VALUES (?, ?, ?) "
                    "ON CONFLICT (model, window_s) DO UPDATE SET through = excluded.through "
                    "WHERE monitoring_rollup.through < excluded.through"
                ),
                (name, w, upto),
            )
        through = upto
    return closed_end


def _dump(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def stored(ws: Workspace, name: str, w: int, since: float, before: float) -> list[dict]:
    rows = ws.store.query(
        "SELECT doc_json FROM monitoring_windows WHERE model = ? AND window_s = ? "
        "AND start >= ? AND start < ? ORDER BY start",
        (name, w, since, before),
    )
    return [json.loads(r["doc_json"]) for r in rows]


# -- the answer --------------------------------------------------------------------------------
def _render(doc: dict, b: Baseline | None, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": iso(doc["start"]),
        "end": iso(doc["end"]),
        "version": doc["version"],
        "shadow": doc["shadow"],
        "requests": doc["requests"],
        "errors": doc["errors"],
        "latency_ms": doc["latency_ms"] or {"p50": None, "p99": None},
        "score_psi": None,
        "features": {},
    }
    if b is not None and b.score is not None and doc.get("score"):
        d = drift(b.score, doc["score"])
        out["score_psi"] = d["psi"] if d else None
    if b is not None:
        for col, counts in sorted(doc.get("features", {}).items()):
            buckets = b.columns.get(col)
            d = drift(buckets, counts) if buckets is not None else None
            if d is not None:
                out["features"][col] = d
    if detail:
        out["rows"] = doc.get("rows", 0)
        out["detail"] = _detail(doc, b)
    return out


def _detail(doc: dict, b: Baseline | None) -> dict[str, Any]:
    """The buckets behind the numbers, for charts: labels, training and live shares."""
    out: dict[str, Any] = {"score": None, "features": {}, "notes": list(b.notes) if b else []}
    if b is None:
        return out
    if b.score is not None and doc.get("score"):
        out["score"] = _pair(b.score, doc["score"])
    for col, counts in doc.get("features", {}).items():
        if col in b.columns and sum(counts):
            out["features"][col] = _pair(b.columns[col], counts)
    return out


def _pair(buckets: Any, counts: list[int]) -> dict[str, Any]:
    total = sum(counts) or 1
    return {
        "labels": list(buckets.labels),
        "expected": [round(x, 6) for x in buckets.expected],
        "actual": [round(c / total, 6) for c in counts],
    }


def monitoring(
    ws: Workspace,
    name: str,
    window: str | None = "1h",
    since: str | float | None = None,
    now: float | None = None,
    detail: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """``{"model", "windows": [...], "alerts": [...]}`` — what GET /v1/models/NAME/monitoring
    and `seer models monitor` answer."""
    w = parse_window(window, strict)
    now = time.time() if now is None else now
    start = since if isinstance(since, (int, float)) else parse_since(since, strict)
    if start is None:
        start = now - DEFAULT_WINDOWS * w
    start = max(0, math.floor(start / w) * w)
    _tables(ws)
    closed_end = roll_up(ws, name, w, now)
    docs = stored(ws, name, w, start, closed_end)
    docs += aggregate(ws, name, w, max(start, closed_end), now + 1)
    docs.sort(key=lambda d: (d["start"], d["shadow"], str(d["version"])))
    windows = []
    for doc in docs:
        b = baseline(ws, name, doc["version"]) if doc["version"] is not None else None
        windows.append(_render(doc, b, detail))
    live.add_labeled(ws, name, w, start, windows)
    return {"model": name, "windows": windows, "alerts": list_alerts(ws, name, since=start)}
