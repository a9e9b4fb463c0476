"""Model bundles: a folder of data, never code.

    manifest.json      format version, model type, label and positive class, threshold,
                       input schema, the fitted feature transform, metrics, params, lineage
    coefficients.json  (hdlr) intercept and the non-zero weights of the hashed space
    model.txt          (gbdt) LightGBM's own text model

Loading a bundle reads JSON and text only. This module imports neither pyspark nor pandas
nor the lightgbm package, so the scoring service can use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_text
from engine.features.online import compile_transform

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
COEFFICIENTS = "coefficients.json"
GBDT_MODEL = "model.txt"


class BundleError(ValueError):
    """A folder that is not a readable model bundle."""


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    atomic_write_text(
        folder / MANIFEST, json.dumps({"seer_bundle": BUNDLE_FORMAT, **manifest}, indent=1)
    )


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a model bundle (no {MANIFEST}).") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is damaged: {exc}.") from None
    fmt = manifest.get("seer_bundle")
    if not isinstance(fmt, int) or fmt > BUNDLE_FORMAT:
        raise BundleError(
            f"{folder} was written in bundle format {fmt!r}; this Seer reads {BUNDLE_FORMAT}. Upgrade Seer."
        )
    return manifest


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class LinearScorer:
    """Scores raw rows with an hdlr bundle in pure Python: transform, sparse dot product, sigmoid."""

    def __init__(self, folder: str | Path, manifest: Mapping[str, Any] | None = None):
        folder = Path(folder)
        self.manifest = dict(manifest or read_manifest(folder))
        coef = json.loads((folder / COEFFICIENTS).read_text("utf-8"))
        self.intercept = float(coef["intercept"])
        self.weights = dict(zip(coef["indices"], coef["weights"], strict=True))
        self.transform = compile_transform(self.manifest["transform"])

    def margin(self, row: Mapping[str, Any]) -> float:
        idx, val = self.transform(row)
        w = self.weights
        return self.intercept + sum(w.get(i, 0.0) * v for i, v in zip(idx, val, strict=True))

    def score(self, row: Mapping[str, Any]) -> float:
        return sigmoid(self.margin(row))
