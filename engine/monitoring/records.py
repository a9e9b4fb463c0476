"""Alert records in the workspace store (``model_alerts``): one per model, version, kind,
measure and window (a unique key), with the webhook delivery's status."""

from __future__ import annotations

import time
import uuid
from typing import Any

from engine.monitoring.logs import iso
from engine.store import Store
from engine.workspace import Workspace

DDL = """CREATE TABLE IF NOT EXISTS model_alerts (
    id TEXT PRIMARY KEY,
    dedupe TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    measure TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    window_start DOUBLE PRECISION NOT NULL,
    window_end DOUBLE PRECISION NOT NULL,
    window_len TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    webhook TEXT,
    delivery TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    delivery_error TEXT,
    claimed_at DOUBLE PRECISION
)"""


def tables(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(DDL)


def _version(text: str) -> Any:
    return int(text) if text.isdigit() else text


def record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "model": row["model"],
        "version": _version(row["version"]),
        "measure": row["measure"],
        "value": row["value"],
        "threshold": row["threshold"],
        "window": {
            "start": iso(row["window_start"]),
            "end": iso(row["window_end"]),
            "length": row["window_len"],
        },
        "time": iso(row["created_at"]),
        "delivery": {
            "status": row["delivery"],
            "attempts": row["attempts"],
            "error": row["delivery_error"],
        },
    }


def list_alerts(
    workspace: Workspace, name: str | None = None, since: float | None = None
) -> list[dict[str, Any]]:
    """Alert records, newest first (of one model, and/or of windows ending after ``since``)."""
    store = workspace.store
    tables(store)
    sql, args = "SELECT * FROM model_alerts WHERE 1 = 1", []
    if name is not None:
        sql += " AND model = ?"
        args.append(name)
    if since is not None:
        sql += " AND window_end > ?"
        args.append(since)
    rows = store.query(sql + " ORDER BY created_at DESC, measure", args)
    return [record(r) for r in rows]


def insert(store: Store, name: str, win: dict, length: str, breach: tuple, webhook: str | None):
    kind, measure, value, threshold = breach
    version = str(win["version"])
    start, end = win["_start"], win["_end"]
    dedupe = f"{name}\n{version}\n{kind}\n{measure}\n{length}\n{start!r}"
    row = {
        "id": uuid.uuid4().hex,
        "dedupe": dedupe,
        "model": name,
        "version": version,
        "kind": kind,
        "measure": measure,
        "value": float(value),
        "threshold": float(threshold),
        "window_start": start,
        "window_end": end,
        "window_len": length,
        "created_at": time.time(),
        "webhook": webhook,
        "delivery": "pending" if webhook else "none",
        "attempts": 0,
        "delivery_error": None,
        "claimed_at": time.time(),  # the process that raised it delivers it
    }
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with store.transaction() as conn:
        cur = conn.execute(
            store._sql(
                f"INSERT INTO model_alerts ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            ),
            tuple(row.values()),
        )
        return row if getattr(cur, "rowcount", 0) == 1 else None


def mark(store: Store, alert_id: str, status: str, attempts: int, error: str | None) -> None:
    store.execute(
        "UPDATE model_alerts SET delivery = ?, attempts = ?, delivery_error = ? WHERE id = ?",
        (status, attempts, error, alert_id),
    )


STALE = 120.0  # a delivery claimed this long ago was cut short (one takes under 30 s)


def stale_deliveries(store: Store, name: str) -> list[dict[str, Any]]:
    """The model's alerts whose delivery a process began and never finished (it ended), each
    claimed for this process — so only one process resumes it."""
    now = time.time()
    rows = store.query(
        "SELECT * FROM model_alerts WHERE model = ? AND delivery = 'pending' "
        "AND webhook IS NOT NULL AND claimed_at < ?",
        (name, now - STALE),
    )
    mine = []
    for row in rows:
        with store.transaction() as conn:
            cur = conn.execute(
                store._sql(
                    "UPDATE model_alerts SET claimed_at = ? WHERE id = ? AND claimed_at = ?"
                ),
                (now, row["id"], row["claimed_at"]),
            )
            if getattr(cur, "rowcount", 0) == 1:
                mine.append(row)
    return mine
