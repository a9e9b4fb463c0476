"""What a model version was trained on, as monitoring needs it: the buckets and expected
shares of every input column and of the score, the validation AUC, and the positive label."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.bundle import BundleError, read_manifest
from engine.model_registry import ModelRegistry, RegistryError
from engine.monitoring.drift import Buckets, column_buckets, score_buckets
from engine.workspace import Workspace


@dataclass
class Baseline:
    version: int
    columns: dict[str, Buckets] = field(default_factory=dict)
    score: Buckets | None = None
    valid_auc: float | None = None
    valid_ks: float | None = None
    valid_logloss: float | None = None
    classes: list[Any] = field(default_factory=list)
    positive: Any = None
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a measure is missing

    def outcome(self, label: Any) -> int | None:
        """A feedback label as 1 (positive) or 0; None for a label this model never had."""
        if self.classes and all(isinstance(c, str) for c in self.classes):
            return int(label == self.positive) if label in self.classes else None
        if isinstance(label, (bool, int)) and label in (0, 1):
            return int(label)
        return None


def from_manifest(version: int, manifest: dict[str, Any]) -> Baseline:
    label = manifest.get("label")
    inputs = [c["name"] for c in manifest.get("input_schema", []) if c["name"] != label]
    metrics = manifest.get("metrics") or {}
    b = Baseline(
        version,
        valid_auc=metrics.get("valid_auc"),
        valid_ks=metrics.get("valid_ks"),
        valid_logloss=metrics.get("valid_logloss"),
        classes=list(manifest.get("classes") or []),
        positive=manifest.get("positive"),
        inputs=inputs,
    )
    base = manifest.get("baseline")
    if not base:
        b.notes.append(
            "this version's bundle keeps no training statistics: input drift is not measured"
        )
    else:
        by_name = {c["name"]: c for c in base.get("columns", [])}
        for name in inputs:
            if name in by_name:
                buckets = column_buckets(by_name[name], base.get("rows") or 0)
                if buckets is not None:
                    b.columns[name] = buckets
    b.score = score_buckets(manifest.get("score_baseline"))
    if b.score is None:
        b.notes.append(
            "this version's bundle keeps no validation score distribution (published before "
            "score drift was measured): score_psi is null; retrain to get it"
        )
    return b


_cache: dict[tuple[str, int, str], Baseline] = {}
_lock = threading.Lock()


def baseline(workspace: Workspace, name: str, version: int) -> Baseline | None:
    """The version's baseline (cached per bundle path); None for a version not registered."""
    try:
        path = ModelRegistry(workspace).path(name, int(version))
    except (RegistryError, ValueError, TypeError):
        return None
    key = (name, int(version), str(Path(path)))
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        manifest = read_manifest(path)
    except BundleError:
        return None
    b = from_manifest(int(version), manifest)
    with _lock:
        _cache[key] = b
    return b
