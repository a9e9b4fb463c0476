"""Reason codes in plain words: what pushed a score, consistent with each model kind.

- LR (hdlr): weight x value of each feature the row has;
- scorecard: the points each variable's attribute costs against the best attribute of it;
- GBDT: LightGBM's per-feature (SHAP) contributions.

A value is placed among the training rows when the bundle knows their distribution (the
training-data histograms of the raw columns, or the percentiles a WOE binning keeps):
``debt_to_income = 0.62 (higher than 90 % of applicants)``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Placer = Callable[[str, Any], "int | None"]


def placer(manifest: Mapping[str, Any]) -> Placer:
    """A function (column, value) -> the percentage of training rows below the value (or None
    when the bundle does not know the column's distribution)."""
    tables: dict[str, Callable[[float], float]] = {}
    baseline = manifest.get("baseline") or {}
    for c in baseline.get("columns", []) if isinstance(baseline, Mapping) else []:
        hist = c.get("histogram")
        if hist and sum(hist["counts"]):
            tables[c["name"]] = _from_histogram(hist["edges"], hist["counts"])
    for f in (manifest.get("transform") or {}).get("features", []):
        pcts = (f.get("fitted") or {}).get("percentiles") if f.get("kind") == "woe" else None
        if pcts and f["column"] not in tables:
            tables[f["column"]] = _from_percentiles(pcts)

    def place(column: str, value: Any) -> int | None:
        fn = tables.get(column)
        if fn is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return None
        return round(min(max(fn(float(value)), 1.0), 99.0))  # "higher than 100 %" reads oddly

    return place


def _from_histogram(edges: Sequence[float], counts: Sequence[int]) -> Callable[[float], float]:
    total = float(sum(counts))
    cum = [0.0]
    for c in counts:
        cum.append(cum[-1] + c)

    def share_below(x: float) -> float:
        if x <= edges[0]:
            return 0.0
        if x >= edges[-1]:
            return 100.0
        k = bisect.bisect_right(edges, x) - 1
        width = edges[k + 1] - edges[k]
        inside = (x - edges[k]) / width if width > 0 else 0.0
        return 100.0 * (cum[k] + inside * counts[k]) / total

    return share_below


def _from_percentiles(pcts: Sequence[float]) -> Callable[[float], float]:
    def share_below(x: float) -> float:
        lo, hi = bisect.bisect_left(pcts, x), bisect.bisect_right(pcts, x)
        return float(lo + hi) / 2  # the 1st to 99th percentiles below x

    return share_below


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def describe(column: str, value: Any, place: Placer) -> str:
    """``debt_to_income = 0.62 (higher than 90 % of applicants)``."""
    text = f"{column} = {_shown(value)}"
    p = place(column, value)
    if p is None:
        return text
    if p >= 50:
        return f"{text} (higher than {p} % of applicants)"
    return f"{text} (lower than {100 - p} % of applicants)"


def effect(contribution: float) -> str:
    return "raises the score" if contribution > 0 else "lowers the score"


def linear_reasons(
    features: Sequence[Mapping[str, Any]],
    entries: Sequence[tuple[str, float]],
    weights: Sequence[float],
    row: Mapping[str, Any],
    place: Placer,
) -> list[dict[str, Any]]:
    """LR: one reason per feature entry with a weight (weight x value), in plain words."""
    out = []
    columns = [_columns_of(f) for f in features for _ in f.get("parts", [0])]
    for (token, value), w, cols in zip(entries, weights, columns, strict=True):
        if not w:
            continue
        c = w * value
        words = " and ".join(describe(col, row.get(col), place) for col in cols)
        out.append(
            {
                "feature": token,
                "value": row.get(cols[0]) if len(cols) == 1 else [row.get(x) for x in cols],
                "contribution": c,
                "text": f"{words}: {effect(c)}",
            }
        )
    out.sort(key=lambda d: -abs(d["contribution"]))
    return out


def _columns_of(feature: Mapping[str, Any]) -> list[str]:
    if feature["kind"] == "combine":
        return [c for m in feature["of"] for c in _columns_of(m)]
    return [feature["column"]]


def scorecard_reasons(
    card: Mapping[str, Any],
    bins: Sequence[tuple[str, Any]],
    row: Mapping[str, Any],
    place: Placer,
) -> list[dict[str, Any]]:
    """Scorecard: per variable, the points its attribute costs against the variable's best
    attribute; the costliest first. ``bins`` holds (column, bin key) of the row."""
    table: dict[tuple[str, Any], Mapping[str, Any]] = {
        (r["variable"], r["key"]): r for r in card["points"]
    }
    best: dict[str, float] = {}
    for r in card["points"]:
        if r["count"] or r["key"] == "other":
            best[r["variable"]] = max(best.get(r["variable"], -math.inf), r["points"])
    coef = {v["column"]: v["coefficient"] for v in card["variables"]}
    out = []
    for column, key in bins:
        r = table[(column, key)]
        lost = max(best[column] - r["points"], 0.0)
        words = describe(column, row.get(column), place)
        out.append(
            {
                "feature": column,
                "value": row.get(column),
                "bin": r["bin"],
                "points": r["points"],
                "points_lost": lost,
                "contribution": coef[column] * r["woe"],
                "text": f"{words}: {lost:.0f} points below the best {column}",
            }
        )
    out.sort(key=lambda d: -d["points_lost"])
    return out


def gbdt_reasons(
    columns: Sequence[str], contributions: Sequence[float], row: Mapping[str, Any], place: Placer
) -> list[dict[str, Any]]:
    """GBDT: LightGBM's SHAP contribution of each raw column (in log-odds)."""
    out = [
        {
            "feature": name,
            "value": row.get(name),
            "contribution": v,
            "text": f"{describe(name, row.get(name), place)}: {effect(v)}",
        }
        for name, v in zip(columns, contributions, strict=False)
        if v
    ]
    out.sort(key=lambda d: -abs(d["contribution"]))
    return out
