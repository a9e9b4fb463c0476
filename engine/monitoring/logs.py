"""Reading the scoring service's request log (engine/serving/request_log.py) for monitoring.

Files: ``<workspace>/logs/serving/<model>/<kind>-YYYYMMDD.jsonl`` (UTC day of writing), kinds
``predictions`` (one record per scored request: ts, request_id, version, instances,
predictions, latency_ms, status; ``"shadow": true`` for a shadow version's), ``errors`` (one per
request answered 4xx/5xx: ts, version, status, latency_ms) and ``feedback`` (ts, id, label).
A line cut short or of an unexpected shape is skipped.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
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


def parse(chunk: list[bytes]) -> list[Any]:
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


def _line_ts(line: bytes) -> float:
    """The time of a record the service wrote (its first field, ``{"ts":...``); -inf when
    the line does not begin so."""
    if line.startswith(b'{"ts":'):
        try:
            return float(line[6 : line.index(b",", 6)])
        except ValueError:
            pass
    return -math.inf


def _skip_to(lines: list[bytes], ts: float) -> int:
    """Where the records of time ``ts`` begin in a file the service wrote in time order (a
    binary search; records are at most seconds out of order, and SLACK is minutes)."""
    return bisect.bisect_left(lines, ts, key=_line_ts)


def chunks(where: Path, kind: str, start: float, end: float) -> Iterator[list[dict[str, Any]]]:
    """The ``kind`` records with start <= ts < end, in lists of up to 50,000."""
    for path in files(where, kind, start, end):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        lines = [line for line in data.split(b"\n") if line.strip()]
        del data
        first = _skip_to(lines, start - SLACK) if (_day_of(path) or 0) < start - SLACK else 0
        for i in range(first, len(lines), 50_000):
            recs = parse(lines[i : i + 50_000])
            try:
                yield [rec for rec in recs if start <= rec["ts"] < end]
            except (KeyError, TypeError, IndexError):  # a record of another shape: the slow way
                yield [
                    rec
                    for rec in recs
                    if isinstance(rec, dict)
                    and isinstance(ts := rec.get("ts"), (int, float))
                    and start <= ts < end
                ]


def records(where: Path, kind: str, start: float, end: float) -> Iterator[dict[str, Any]]:
    """The ``kind`` records with start <= ts < end."""
    for chunk in chunks(where, kind, start, end):
        yield from chunk


_RID = b'"request_id":'


def _request_id(line: bytes) -> bytes | None:
    """The request id of a predictions line, found by position (JSON with or without spaces)."""
    at = line.find(_RID)
    if at < 0:
        return None
    at = line.find(b'"', at + len(_RID))
    if at < 0:
        return None
    return line[at + 1 : line.find(b'"', at + 1)]


def token_time(request_id: str) -> float | None:
    """When a request was scored, read from its id: the service's request ids begin with the
    time in milliseconds (12 hex digits); None for an id without it."""
    token = request_id.partition(".")[0]
    try:
        ts = int(token[:12], 16) / 1000
    except ValueError:
        return None
    return ts if len(token) == 32 and 1.5e9 < ts < 4.2e9 else None


def _scan(paths: list[Path], wanted: set[bytes], out: dict[str, Any]) -> None:
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for line in data.split(b"\n"):
            rid = _request_id(line)
            if rid in wanted:
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out[rid.decode()] = rec


def find_predictions(where: Path, request_ids: set[str]) -> dict[str, Any]:
    """``request_id -> predictions record``. Only the files of the day an id names are read
    (every file for ids without a time), and only the lines of those ids are parsed (the
    request id is found by position)."""
    out: dict[str, Any] = {}
    by_files: dict[tuple[Path, ...], set[bytes]] = {}
    for rid in request_ids:
        ts = token_time(rid)
        paths = files(where, "predictions", ts - SLACK, ts + SLACK) if ts else []
        by_files.setdefault(tuple(paths), set()).add(rid.encode())
    for paths, wanted in by_files.items():
        if paths:
            _scan(list(paths), wanted, out)
    missing = {r.encode() for r in request_ids if r not in out}
    if missing:  # ids without a time, or not where their time says
        _scan(files(where, "predictions", 0, float("inf")), missing, out)
    return out
