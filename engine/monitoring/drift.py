"""Drift of a model's inputs and score against its training baseline: the buckets, PSI and KS.

The binning (documented in docs/serving.md, "Monitoring and alerts"):

- a **numeric** column uses the buckets of the histogram the bundle's baseline keeps (20
  equal-width buckets between the training minimum and maximum), the first and last left open
  (a live value below the training minimum counts in the first bucket, one above the maximum
  in the last), and one more bucket for missing values;
- a **categorical** column (text, booleans, numbers with few values and no histogram) uses the
  baseline's top values (up to 10), one bucket ``other`` for every other value and one for
  missing values;
- the **score** uses the buckets the bundle keeps under ``score_baseline``: the validation
  scores' deciles (older bundles have none: their score PSI is ``null``).

PSI = Σ (a − e) · ln(a / e) over the buckets, with a and e the live and expected shares, each
floored at 0.0001 so an empty bucket does not make it infinite. KS (numeric columns only) is
the largest gap between the live and expected cumulative shares of the non-missing values,
read at the bucket edges — the baseline keeps a histogram, not the training values, so this
is the two-sample KS statistic at the resolution of the baseline's buckets.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-4
SAMPLE_ROWS = 100_000  # engine.stats samples every k-th row beyond this many


@dataclass(frozen=True)
class Buckets:
    """How one column's live values are counted, and the shares training had."""

    kind: str  # "numeric" | "categorical"
    labels: tuple[str, ...]  # one per bucket, "missing" last
    expected: tuple[float, ...]  # training shares, summing to 1
    edges: tuple[float, ...] = ()  # numeric: the inner edges (len = buckets - 2)
    values: tuple[Any, ...] = ()  # categorical: the top values

    def count(self, values: Any) -> list[int]:
        """Live counts per bucket (the last bucket: missing values)."""
        k = len(self.labels)
        if self.kind == "numeric":
            x = _floats(values)
            finite = np.isfinite(x)
            idx = np.searchsorted(np.asarray(self.edges), x[finite], side="right")
            counts = np.bincount(idx, minlength=k - 1).tolist()
            return [*counts, int((~finite).sum())]
        index = {_key(v): i for i, v in enumerate(self.values)}
        other, missing = k - 2, k - 1
        counts = [0] * k
        try:
            seen = Counter(values).items()
        except TypeError:  # an unhashable value (a list or an object sent as a value)
            seen = Counter(v if v is None else _key(v) for v in values).items()
        for v, n in seen:
            counts[missing if v is None else index.get(_key(v), other)] += n
        return counts


def _floats(values: Any) -> np.ndarray:
    """Numbers as floats, None as NaN (and, when some value is not a number at all, every
    value that is not a number as NaN)."""
    values = list(values)
    try:
        return np.array(values, dtype=float)  # None becomes NaN
    except (TypeError, ValueError):
        pass
    return np.array([_number(v) for v in values], dtype=float)


def _short(x: float) -> str:
    """A bucket edge for a label: 3 significant digits, thousands as k and millions as M."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)


def _key(v: Any) -> Any:
    return v if isinstance(v, str) else repr(v) if isinstance(v, bool) else str(v)


def column_buckets(column: dict[str, Any], baseline_rows: int) -> Buckets | None:
    """The buckets of one baseline column (engine.stats format); None when it keeps neither a
    histogram nor top values (e.g. an identifier where every value is distinct)."""
    rows = max(1, int(baseline_rows or 0))
    missing_share = min(1.0, (column.get("missing") or 0) / rows)
    hist = column.get("histogram")
    if hist and hist.get("counts") and sum(hist["counts"]) > 0:
        counts = np.asarray(hist["counts"], dtype=float)
        shares = counts / counts.sum() * (1 - missing_share)
        edges = [float(e) for e in hist["edges"]]
        labels = [f"{_short(edges[i])}–{_short(edges[i + 1])}" for i in range(len(counts))]
        labels[0] = f"< {_short(edges[1])}"
        labels[-1] = f"≥ {_short(edges[-2])}"
        return Buckets(
            "numeric",
            (*labels, "missing"),
            (*shares.tolist(), missing_share),
            edges=tuple(edges[1:-1]),
        )
    top = column.get("top")
    if top:
        # top counts are on the sample engine.stats read: every k-th row beyond SAMPLE_ROWS
        step = max(1, math.ceil(rows / SAMPLE_ROWS))
        present = max(1.0, (column.get("count") or 0) / step)
        shares = [min(1.0, t["count"] / present) for t in top]
        other = max(0.0, 1.0 - sum(shares))
        total = sum(shares) + other
        shares = [s / total * (1 - missing_share) for s in shares]
        other = other / total * (1 - missing_share)
        values = tuple(t["value"] for t in top)
        return Buckets(
            "categorical",
            (*[str(v) for v in values], "other", "missing"),
            (*shares, other, missing_share),
            values=values,
        )
    return None


def score_buckets(score_baseline: dict[str, Any] | None) -> Buckets | None:
    """The score's buckets from a bundle's ``score_baseline`` (None for older bundles)."""
    if not score_baseline or not score_baseline.get("counts"):
        return None
    counts = np.asarray(score_baseline["counts"], dtype=float)
    edges = [float(e) for e in score_baseline["edges"]]
    bounds = [0.0, *edges, 1.0]
    labels = [f"{bounds[i]:.3f}–{bounds[i + 1]:.3f}" for i in range(len(counts))]
    return Buckets(
        "numeric",
        (*labels, "missing"),
        (*(counts / counts.sum()).tolist(), 0.0),
        edges=tuple(edges),
    )


def shares(counts: list[int] | np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return c / total if total else c


def psi(expected: Any, actual: Any) -> float:
    """Population stability index of two share vectors over the same buckets."""
    e = np.maximum(np.asarray(expected, dtype=float), EPS)
    a = np.maximum(np.asarray(actual, dtype=float), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(expected: Any, actual: Any) -> float:
    """Largest gap between the cumulative shares of two distributions over the same ordered
    buckets (the last bucket, missing values, left out and the rest renormalised)."""
    e = np.asarray(expected, dtype=float)[:-1]
    a = np.asarray(actual, dtype=float)[:-1]
    if e.sum() <= 0 or a.sum() <= 0:
        return 0.0
    return float(np.max(np.abs(np.cumsum(e / e.sum()) - np.cumsum(a / a.sum()))))


def drift(buckets: Buckets, counts: list[int]) -> dict[str, float] | None:
    """``{"psi": x, "ks": y}`` (ks for numeric columns) of live counts; None without rows."""
    if sum(counts) == 0:
        return None
    live = shares(counts)
    out = {"psi": round(psi(buckets.expected, live), 6)}
    if buckets.kind == "numeric":
        out["ks"] = round(ks(buckets.expected, live), 6)
    return out
