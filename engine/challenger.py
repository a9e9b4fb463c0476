"""Champion and challenger on the same traffic: the labeled predictions the service logged.

Reads the scoring service's request log (``logs/serving/<model>/predictions-*.jsonl``) with the
true outcomes sent as feedback (``feedback-*.jsonl``), and

- chooses the **newest labeled window**: the newest ``HOLDOUT_SHARE`` (30 %) of the predictions
  that received feedback, ordered by the time they were made (at least one logged request);
  a retrain leaves it out of the challenger's training data (``import.serving_log`` with the
  cut), so both versions are judged on rows neither trained on;
- scores those logged inputs again with each version through the online scorer the service
  uses (``engine.serving.scoring.LoadedModel``): exactly the scores serving would give;
- records the comparison (metric per version, rows, window) in the store (``model_comparisons``);
- measures each version's **live** metrics from what it actually scored, a shadow version's
  mirrored scores included.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.metrics import auc as auc_of
from engine.metrics import logloss as logloss_of
from engine.model_registry import ModelRegistry, RegistryError, check_version
from engine.serving.scoring import LoadedModel, RequestError
from engine.workspace import Workspace

HOLDOUT_SHARE = 0.3
#: fewer labeled rows (or only one class among them) and a comparison means nothing
MIN_COMPARE_ROWS = 30
METRICS = ("auc", "ks", "logloss")

DDL = """CREATE TABLE IF NOT EXISTS model_comparisons (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    champion INTEGER NOT NULL,
    challenger INTEGER NOT NULL,
    metric TEXT NOT NULL,
    rows INTEGER NOT NULL,
    window_start DOUBLE PRECISION,
    window_end DOUBLE PRECISION,
    result_json TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
)"""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Logged:
    """One scored instance from the request log, with its outcome if feedback came."""

    ts: float
    version: int
    shadow: bool
    pid: str
    inputs: dict[str, Any]
    score: float | None
    label: Any = None


def _records(folder: Path, pattern: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob(pattern)):
        for line in path.read_text("utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(rec, dict):
                out.append(rec)
    return out


def read_traffic(ws: Workspace, name: str) -> list[Logged]:
    """Every logged prediction of ``name`` (shadow versions' too), oldest first."""
    folder = ws.logs_dir / "serving" / name
    labels = {
        r["id"]: r["label"]
        for r in _records(folder, "feedback-*.jsonl")
        if isinstance(r.get("id"), str) and "label" in r
    }
    out = []
    for rec in _records(folder, "predictions-*.jsonl"):
        try:
            pairs = zip(rec["instances"], rec["predictions"], strict=True)
            ts, version, request_id = float(rec["ts"]), int(rec["version"]), rec["request_id"]
            shadow = bool(rec.get("shadow"))
            for i, (inputs, pred) in enumerate(pairs):
                pid = f"{request_id}/{i}"
                out.append(
                    Logged(ts, version, shadow, pid, inputs, pred.get("score"), labels.get(pid))
                )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    out.sort(key=lambda r: r.ts)
    return out


def served_labeled(traffic: list[Logged]) -> list[Logged]:
    """The predictions the service answered with (not a shadow's) that received feedback."""
    return [r for r in traffic if not r.shadow and r.label is not None]


def holdout_cut(labeled: list[Logged], share: float = HOLDOUT_SHARE) -> float | None:
    """The time from which the newest ``share`` of labeled predictions were made: predictions
    logged at or after it form the held-out window. None when nothing is labeled."""
    if not labeled:
        return None
    first = len(labeled) - max(1, math.ceil(share * len(labeled)))
    return labeled[first].ts


def binary_labels(model: LoadedModel, labels: list[Any]) -> np.ndarray:
    """Feedback labels as 1 (the model's positive class) or 0."""
    positive = model.positive
    out = []
    for v in labels:
        if isinstance(v, str) and model.classes and all(isinstance(c, str) for c in model.classes):
            out.append(1 if v == positive else 0)
        else:
            out.append(1 if v in (1, True) else 0)
    return np.asarray(out, dtype=float)


def ks_of(y: np.ndarray, s: np.ndarray) -> float:
    """The KS statistic: the largest gap between the cumulative score distributions."""
    order = np.argsort(-s, kind="mergesort")
    y = y[order]
    tpr = np.cumsum(y) / max(y.sum(), 1)
    fpr = np.cumsum(1 - y) / max((1 - y).sum(), 1)
    return float(np.max(np.abs(tpr - fpr))) if len(y) else float("nan")


def measures(y: np.ndarray, s: np.ndarray) -> dict[str, Any]:
    """AUC, KS and logloss of scores ``s`` against 0/1 outcomes ``y`` (None where undefined)."""
    if len(y) == 0 or y.min() == y.max():
        return {"auc": None, "ks": None, "logloss": None, "rows": len(y)}
    return {
        "auc": round(auc_of(y, s), 6),
        "ks": round(ks_of(y, s), 6),
        "logloss": round(logloss_of(y, s), 6),
        "rows": len(y),
    }


def better(metric: str, challenger: float, champion: float) -> float:
    """How much better the challenger is (logloss: lower is better)."""
    return champion - challenger if metric == "logloss" else challenger - champion


class Comparisons:
    """Champion-versus-challenger comparisons of the workspace's models."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.registry = ModelRegistry(ws)
        self.store = ws.store
        with self.store.transaction() as conn:
            conn.execute(DDL)

    def model(self, name: str, version: int) -> LoadedModel:
        return LoadedModel(name, version, self.registry.path(name, version))

    def compare(
        self,
        name: str,
        champion: int,
        challenger: int,
        metric: str = "auc",
        since: float | None = None,
        traffic: list[Logged] | None = None,
    ) -> dict[str, Any]:
        """Score both versions on the labeled predictions logged at or after ``since`` (the
        held-out window; None: the newest window chosen as a retrain chooses it)."""
        traffic = read_traffic(self.ws, name) if traffic is None else traffic
        labeled = served_labeled(traffic)
        since = holdout_cut(labeled) if since is None else since
        window = [r for r in labeled if since is not None and r.ts >= since]
        result: dict[str, Any] = {
            "model": name,
            "metric": metric,
            "window": {
                "start": iso(window[0].ts) if window else None,
                "end": iso(window[-1].ts) if window else None,
                "rows": len(window),
                "chosen": f"the newest {HOLDOUT_SHARE:.0%} of labeled predictions",
            },
            "versions": {},
        }
        for role, version in (("champion", champion), ("challenger", challenger)):
            result["versions"][str(version)] = {"role": role, **self._scored(name, version, window)}
        a = result["versions"][str(challenger)].get(metric)
        b = result["versions"][str(champion)].get(metric)
        result["gain"] = None if a is None or b is None else round(better(metric, a, b), 6)
        return result

    def _scored(self, name: str, version: int, rows: list[Logged]) -> dict[str, Any]:
        model = self.model(name, version)
        usable = []
        for r in rows:
            try:
                model.validate([r.inputs])
            except RequestError:
                continue  # a row this version cannot take (its inputs differ): left out
            usable.append(r)
        if not usable:
            return measures(np.zeros(0), np.zeros(0))
        scores = np.asarray(model.scores([r.inputs for r in usable]), dtype=float)
        out = measures(binary_labels(model, [r.label for r in usable]), scores)
        if len(usable) < len(rows):
            out["skipped"] = len(rows) - len(usable)
        return out

    def live(self, name: str, traffic: list[Logged] | None = None) -> dict[str, dict[str, Any]]:
        """Each version's live metrics: what it scored (served, canary or shadow) against the
        outcomes fed back."""
        traffic = read_traffic(self.ws, name) if traffic is None else traffic
        by_version: dict[tuple[int, bool], list[Logged]] = {}
        for r in traffic:
            by_version.setdefault((r.version, r.shadow), []).append(r)
        out: dict[str, dict[str, Any]] = {}
        for (version, shadow), rows in sorted(by_version.items()):
            labeled = [r for r in rows if r.label is not None and r.score is not None]
            try:
                model = self.model(name, version)
                y = binary_labels(model, [r.label for r in labeled])
            except Exception:  # a version removed from the registry: no class list
                y = np.asarray([1.0 if r.label in (1, True) else 0.0 for r in labeled])
            s = np.asarray([float(r.score) for r in labeled], dtype=float)  # type: ignore[arg-type]
            entry = {**measures(y, s), "predictions": len(rows), "labeled": len(labeled)}
            entry.pop("rows")
            out[f"{version}{' (shadow)' if shadow else ''}"] = {**entry, "shadow": shadow}
        return out

    # -- the record ----------------------------------------------------------------------------
    def record(self, result: dict[str, Any], champion: int, challenger: int) -> str:
        cid = uuid.uuid4().hex[:12]
        window = result["window"]
        with self.store.transaction() as conn:
            conn.execute(
                self.store._sql(
                    "INSERT INTO model_comparisons (id, name, champion, challenger, metric, rows, "
                    "window_start, window_end, result_json, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    cid,
                    result["model"],
                    champion,
                    challenger,
                    result["metric"],
                    window["rows"],
                    _ts(window["start"]),
                    _ts(window["end"]),
                    json.dumps(result, sort_keys=True),
                    time.time(),
                ),
            )
        return cid

    def recorded(self, name: str, v1: int | None = None, v2: int | None = None) -> list[dict]:
        """Recorded comparisons of ``name`` (of these two versions, either way round), newest
        first."""
        rows = self.store.query(
            "SELECT * FROM model_comparisons WHERE name = ? ORDER BY created_at DESC", (name,)
        )
        out = []
        for r in rows:
            if v1 is not None and {r["champion"], r["challenger"]} != {v1, v2}:
                continue
            out.append({**json.loads(r["result_json"]), "id": r["id"], "at": iso(r["created_at"])})
        return out


def _ts(text: str | None) -> float | None:
    return None if text is None else dt.datetime.fromisoformat(text).timestamp()


def compare_versions(ws: Workspace, name: str, v1: Any, v2: Any, metric: str = "auc") -> dict:
    """`seer models compare NAME V1 V2`: both versions scored now on the newest labeled window,
    their recorded comparisons, and every version's live metrics (shadows beside the champion)."""
    a, b = check_version(v1), check_version(v2)
    if a == b:
        raise RegistryError(f"Compare two different versions of {name} (got {a} twice).")
    comparisons = Comparisons(ws)
    comparisons.registry.path(name, a)
    comparisons.registry.path(name, b)
    traffic = read_traffic(ws, name)
    result = comparisons.compare(name, a, b, metric, traffic=traffic)
    result["versions"][str(a)]["role"] = "first"
    result["versions"][str(b)]["role"] = "second"
    result["live"] = comparisons.live(name, traffic)
    result["recorded"] = comparisons.recorded(name, a, b)
    return result
