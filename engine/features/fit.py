"""Fitting a feature configuration on a Spark table: quantile boundaries, vocabularies and
statistics, from a deterministic sample (rows picked by a hash of their content, so the
result does not depend on partitioning or master)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.features.config import (
    FeatureConfigError,
    feature_name,
    transforms_of,
    validate_config,
)
from engine.features.online import TRANSFORM_FORMAT, continuous_value

FIT_SAMPLE_ROWS = 1_000_000
MAX_VOCABULARY = 100_000
CLIP_QUANTILES = (0.001, 0.999)


def _numeric_columns_to_fit(features: list[dict[str, Any]]) -> set[str]:
    cols: set[str] = set()
    for f in features:
        if f["kind"] == "combine":
            cols |= _numeric_columns_to_fit(f["of"])
        elif (
            f["kind"] == "bucket"
            and "buckets" in f
            or f["kind"] == "continuous"
            and (
                "standardize" in transforms_of(f)
                or ("clip" in transforms_of(f) and not f.get("clip"))
            )
        ):
            cols.add(f["column"])
    return cols


def quantile_boundaries(values: np.ndarray, buckets: int) -> list[float]:
    """Boundaries that cut the values into about ``buckets`` groups of equal size.

    Boundaries are actual data values (bucket k holds the values with k boundaries at or below
    them). A value that alone holds more than one bucket's share of the rows (the zeros of a
    capital-gain column, say) gets a bucket of its own, and the other values are cut into
    quantiles among themselves, so skewed columns keep their detail.
    """
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return []
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) <= buckets:
        return [float(b) for b in uniq[1:]]
    heavy = uniq[counts > len(values) / buckets]
    bounds = set()
    for h in heavy:  # a bucket of its own: a boundary at the value and at the next one
        i = int(np.searchsorted(uniq, h))
        bounds.add(float(h))
        if i + 1 < len(uniq):
            bounds.add(float(uniq[i + 1]))
    rest = values[~np.isin(values, heavy)]
    groups = max(buckets - len(heavy), 1)
    if len(rest) and groups > 1:
        qs = np.quantile(rest, np.arange(1, groups) / groups, method="higher")
        bounds.update(float(q) for q in qs)
    lowest = float(uniq[0])
    return sorted(
        b for b in bounds if b > lowest
    )  # a boundary at the minimum leaves bucket 0 empty


def _fit_one(
    defn: dict[str, Any], sample: Mapping[str, np.ndarray], vocab: Mapping[str, list[str]]
) -> dict[str, Any]:
    f = copy.deepcopy(defn)
    kind = f["kind"]
    if kind == "combine":
        f["of"] = [_fit_one(m, sample, vocab) for m in f["of"]]
        return f
    fitted: dict[str, Any] = {}
    if kind == "bucket":
        fitted["boundaries"] = (
            [float(b) for b in f["boundaries"]]
            if "boundaries" in f
            else quantile_boundaries(sample[f["column"]], int(f["buckets"]))
        )
    elif kind == "discrete" and f.get("min_count", 1) > 1:
        fitted["vocabulary"] = vocab[feature_name(f)]
    elif kind == "continuous":
        ts = transforms_of(f)
        if ts:
            values = sample.get(f["column"])
            values = values[np.isfinite(values)] if values is not None else np.array([])
            partial: dict[str, Any] = {
                "kind": "continuous",
                "column": f["column"],
                "fitted": fitted,
            }
            done: list[str] = []
            for t in ts:
                if t == "clip":
                    if f.get("clip"):
                        fitted["clip"] = [float(x) for x in f["clip"]]
                    else:
                        lo, hi = np.quantile(values, CLIP_QUANTILES) if len(values) else (0.0, 0.0)
                        fitted["clip"] = [float(lo), float(hi)]
                elif t == "standardize":
                    partial["transform"] = done
                    current = np.array([continuous_value(float(v), partial) for v in values])
                    with np.errstate(over="ignore", invalid="ignore"):
                        mean = float(current.mean()) if len(current) else 0.0
                        std = float(current.std()) if len(current) else 1.0
                    mean = mean if np.isfinite(mean) else 0.0
                    fitted["mean"], fitted["std"] = (
                        mean,
                        (std if np.isfinite(std) and std > 0 else 1.0),
                    )
                done.append(t)
    if fitted:
        f["fitted"] = fitted
    return f


def fit_features(
    df: Any,
    features: list[dict[str, Any]],
    hash_bits: int,
    label: str | None,
    sample_rows: int = FIT_SAMPLE_ROWS,
    log: Any = None,
) -> dict[str, Any]:
    """Fit a feature configuration on a Spark DataFrame; returns the fitted transform (data)."""
    from pyspark.sql import functions as F

    schema = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    problems = validate_config(features, hash_bits, schema)
    if problems:
        raise problems[0]
    numeric = sorted(_numeric_columns_to_fit(features))
    sample: dict[str, np.ndarray] = {}
    total = None
    if numeric:
        total = df.count()
        frac = min(1.0, sample_rows / total) if total else 1.0
        part = df.select(*[F.col(f"`{c}`").cast("double").alias(c) for c in numeric])
        if frac < 1.0:
            u = F.pmod(
                F.xxhash64(F.lit(7), *[F.col(f"`{c}`") for c in df.columns]), F.lit(2**53)
            ) / float(2**53)
            part = df.where(u < frac).select(
                *[F.col(f"`{c}`").cast("double").alias(c) for c in numeric]
            )
        table = part.toArrow()
        for c in numeric:
            sample[c] = table.column(c).to_numpy(zero_copy_only=False).astype(float)
            sample[c] = np.where(np.isnan(sample[c]), np.nan, sample[c])
        if log:
            log(f"fitted boundaries and statistics on {table.num_rows:,} of {total:,} rows")
    vocab: dict[str, list[str]] = {}
    for f in _discrete_with_vocab(features):
        name = feature_name(f)
        counts = (
            df.where(F.col(f"`{f['column']}`").isNotNull())
            .groupBy(F.col(f"`{f['column']}`").cast("string").alias("v"))
            .count()
            .where(F.col("count") >= f["min_count"])
            .orderBy(F.col("count").desc(), "v")
            .limit(MAX_VOCABULARY)
            .collect()
        )
        vocab[name] = sorted(r["v"] for r in counts)
    fitted_features = [_fit_one(f, sample, vocab) for f in features]
    used = sorted({c for f in features for c in _columns(f)} | ({label} if label else set()))
    return {
        "seer_transform": TRANSFORM_FORMAT,
        "hash_bits": hash_bits,
        "label": label,
        "input_schema": [{"name": c, "type": schema[c]} for c in used if c in schema],
        "features": fitted_features,
        "fitted_on": {
            "rows": total,
            "sampled_rows": int(len(next(iter(sample.values())))) if sample else None,
        },
    }


def _discrete_with_vocab(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in features:
        if f["kind"] == "combine":
            out += _discrete_with_vocab(f["of"])
        elif f["kind"] == "discrete" and f.get("min_count", 1) > 1:
            out.append(f)
    return out


def _columns(f: Mapping[str, Any]) -> list[str]:
    if f["kind"] == "combine":
        return [c for m in f["of"] for c in _columns(m)]
    return [f["column"]]


__all__ = ["FeatureConfigError", "fit_features", "quantile_boundaries"]
