"""Reading the scoring service's request log (engine/serving/request_log.py) for monitoring.

Files: ``<workspace>/logs/serving/<model>/<kind>-YYYYMMDD.jsonl`` (UTC day of writing), kinds
``predictions`` (one record per scored request: ts, request_id, version, instances,
predictions, latency_ms, status; ``"shadow": true`` for a shadow version's), ``errors`` (one per
request answered 4xx/5xx: ts, version, status, latency_ms) and ``feedback`` (ts, id, label).
A line cut short or of an unexpected shape is skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from engine.workspace import Workspace

DAY = 86400
# a record may land in the next day's file when written just after midnight
SLACK = 300.0


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_to_ts(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def folder(workspace: Workspace, name: str) -> Path:
    return workspace.logs_dir / "serving" / name


def _day_of(path: Path) -> float | None:
    stem = path.stem.rpartition("-")[2]
    try:
        return dt.datetime.strptime(stem, "%Y%m%d").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def files(where: Path, kind: str, start: float, end: float) -> list[Path]:
    """The ``kind`` files that may hold records with start <= ts < end, oldest first."""
    out = []
    for path in sorted(where.glob(f"{kind}-*.jsonl")):
        day = _day_of(path)
        if day is not None and day + DAY > start and day <= end + SLACK:
            out.append(path)
    return out


def first_day(where: Path) -> float | None:
    days = [d for p in where.glob("*-*.jsonl") if (d := _day_of(p)) is not None]
    return min(days) if days else None


def _parse(chunk: list[bytes]) -> list[Any]:
    try:
        return orjson.loads(b"[" + b",".join(chunk) + b"]")
    except orjson.JSONDecodeError:  # a damaged line: parse one by one, skipping it
        out = []
        for line in chunk:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return out


def records(where: Path, kind: str, start: float, end: float) -> Iterator[dict[str, Any]]:
    """The ``kind`` records with start <= ts < end."""
    for path in files(where, kind, start, end):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        lines = [line for line in data.split(b"\n") if line.strip()]
        for i in range(0, len(lines), 50_000):
            for rec in _parse(lines[i : i + 50_000]):
                if isinstance(rec, dict):
                    ts = rec.get("ts")
                    if isinstance(ts, (int, float)) and start <= ts < end:
                        yield rec


_RID = b'"request_id":"'


def scores_of(where: Path, request_ids: set[str], start: float, end: float) -> dict[str, Any]:
    """``request_id -> record`` for the predictions records among ``request_ids`` (only those
    lines are parsed: the request id is found by position)."""
    out: dict[str, Any] = {}
    wanted = {r.encode() for r in request_ids}
    for path in files(where, "predictions", start, end):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for line in data.split(b"\n"):
            at = line.find(_RID)
            if at < 0:
                continue
            at += len(_RID)
            rid = line[at : line.find(b'"', at)]
            if rid in wanted:
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out[rid.decode()] = rec
    return out
