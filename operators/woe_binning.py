"""Optimal binning with weight of evidence (WOE) and information value (IV), on the driver.

optbinning finds the bins (a mixed-integer optimiser under a minimum bin size and a monotonic
trend of the event rate); this module turns them into a fitted ``woe`` feature: plain data
that the two feature compilers (Spark and online) apply alike. Counts, WOE and IV are computed
here from the same bin assignment the compilers use, so the report and the scores agree.

WOE of a bin = ln(share of the non-events in it / share of the events in it): negative where
the positive class (the event: default, fraud) is more frequent than on average. IV sums
(non-event share - event share) x WOE over the bins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.opapi import WOE_MISSING, WOE_OTHER, WOE_SPECIAL, woe_bin

#: The usual reading of a column's information value.
IV_READING = ((0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (math.inf, "strong"))
TRENDS = ("auto", "ascending", "descending", "peak", "valley", "none")
_OPTB_TREND = {"auto": "auto_asc_desc", "none": None}
NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
ZERO_COUNT = 0.5  # added to an empty side of a bin so its WOE stays finite


def iv_strength(iv: float) -> str:
    """useless < 0.02 <= weak < 0.1 <= medium < 0.3 <= strong."""
    return next(word for limit, word in IV_READING if iv < limit)


def is_numeric(ctype: str) -> bool:
    return ctype in NUMERIC_TYPES or ctype.startswith("decimal")


def optimal_splits(
    x: np.ndarray,
    y: np.ndarray,
    numeric: bool,
    options: Mapping[str, Any],
) -> list[Any]:
    """The bins optbinning finds: split points of a number, or groups of category texts."""
    from optbinning import OptimalBinning

    trend = options.get("monotonic_trend", "auto")
    specials = list(options.get("special_values") or [])
    optb = OptimalBinning(
        name="x",
        dtype="numerical" if numeric else "categorical",
        max_n_bins=int(options.get("max_bins", 10)),
        min_bin_size=float(options.get("min_bin_share", 0.05)),
        # the pre-bins the optimiser merges: fine enough for the minimum bin size asked for
        max_n_prebins=max(20, 2 * int(options.get("max_bins", 10))),
        min_prebin_size=min(0.05, float(options.get("min_bin_share", 0.05))),
        monotonic_trend=_OPTB_TREND.get(trend, trend) if numeric else "auto_asc_desc",
        special_codes=specials or None,
        cat_cutoff=None,
        time_limit=30,
    )
    optb.fit(x, y)
    if numeric:
        return [float(s) for s in optb.splits]
    return [sorted(str(c) for c in group) for group in optb.splits]


def _woe(non_events: float, events: float, total_non: float, total_events: float) -> float:
    if non_events + events == 0:
        return 0.0
    if non_events == 0 or events == 0:
        non_events, events = non_events + ZERO_COUNT, events + ZERO_COUNT
    return math.log((non_events / total_non) / (events / total_events))


def _number_label(k: int, splits: Sequence[float]) -> str:
    lo = "-inf" if k == 0 else f"{splits[k - 1]:.6g}"
    hi = "inf" if k == len(splits) else f"{splits[k]:.6g}"
    return f"[{lo}, {hi})"


def _category_label(group: Sequence[str]) -> str:
    shown = ", ".join(group[:6]) + (f", ... ({len(group)} values)" if len(group) > 6 else "")
    return "{" + shown + "}"


def fit_woe_column(
    column: str,
    ctype: str,
    x: np.ndarray,
    y: np.ndarray,
    options: Mapping[str, Any],
    edit: Mapping[str, Any] | None = None,
    as_categories: bool = False,
) -> dict[str, Any]:
    """A fitted woe feature of one column. ``x`` holds the raw values (numbers as floats with
    NaN for missing; categories as objects with None), ``y`` 0/1 with 1 the event.
    ``edit`` (a manual edit from the flow) replaces the optimal bins: {"splits": [...]} for a
    number, {"groups": [[...], ...]} for categories. ``as_categories`` bins a column of
    integer codes as categories (each code's own risk, no trend across codes)."""
    numeric = is_numeric(ctype) and not as_categories
    specials = list(options.get("special_values") or [])
    if not numeric:
        x = np.array([None if _is_null(v) else _text(v, ctype) for v in x], dtype=object)
        specials = [str(v) for v in specials]
    if edit:
        bins = [float(s) for s in edit["splits"]] if numeric else edit["groups"]
        source = "manual"
    else:
        present = ~_missing(x, numeric)
        if present.sum() == 0 or len(set(y[present].tolist())) < 2:
            bins = []
        else:
            bins = optimal_splits(
                x[present], y[present], numeric, {**options, "special_values": specials}
            )
        source = "optimal"
    if numeric:
        bins = sorted(set(bins))
    fitted: dict[str, Any] = {
        "dtype": "numerical" if numeric else "categorical",
        ("splits" if numeric else "groups"): bins,
        "special_values": specials,
        "source": source,
    }
    feature = {"kind": "woe", "column": column, "fitted": fitted}
    _fill_table(feature, ctype, x, y, numeric)
    if numeric:
        finite = x[np.isfinite(x.astype(float))].astype(float)
        if len(finite):
            fitted["percentiles"] = [float(q) for q in np.percentile(finite, np.arange(1, 100))]
    return feature


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _text(v: Any, ctype: str) -> str:
    if ctype == "boolean":
        return "true" if v else "false"
    if ctype in ("tinyint", "smallint", "int", "bigint"):
        return str(int(v))
    return str(v)


def _missing(x: np.ndarray, numeric: bool) -> np.ndarray:
    if numeric:
        return np.isnan(x.astype(float))
    return np.array([v is None for v in x], dtype=bool)


def _fill_table(
    feature: dict[str, Any], ctype: str, x: np.ndarray, y: np.ndarray, numeric: bool
) -> None:
    """Counts, event rate, WOE and IV per bin, from the compilers' own bin function."""
    fitted = feature["fitted"]
    bin_of = woe_bin(feature, {feature["column"]: "string" if not numeric else "double"})
    values = [None if (numeric and v != v) else v for v in x.tolist()]
    keys = [bin_of(v) for v in values]
    regular = len(fitted["splits"]) + 1 if numeric else len(fitted["groups"])
    order: list[Any] = [*range(regular), WOE_SPECIAL, WOE_MISSING, WOE_OTHER]
    events = {k: 0 for k in order}
    counts = {k: 0 for k in order}
    for k, label in zip(keys, y.tolist(), strict=True):
        counts[k] += 1
        events[k] += int(label)
    total = max(len(keys), 1)
    total_events = max(sum(events.values()), 1)
    total_non = max(total - sum(events.values()), 1)
    table, iv = [], 0.0
    for k in order:
        n, e = counts[k], events[k]
        woe = _woe(n - e, e, total_non, total_events)
        part = ((n - e) / total_non - e / total_events) * woe
        iv += part
        if isinstance(k, int):
            label = (
                _number_label(k, fitted["splits"])
                if numeric
                else _category_label(fitted["groups"][k])
            )
        else:
            label = {WOE_SPECIAL: "Special", WOE_MISSING: "Missing", WOE_OTHER: "Other"}[k]
        table.append(
            {
                "bin": label,
                "key": k,
                "count": n,
                "share": n / total,
                "events": e,
                "event_rate": e / n if n else None,
                "woe": woe,
                "iv": part,
            }
        )
    fitted["woe"] = [row["woe"] for row in table[:regular]]
    fitted["woe_special"] = table[regular]["woe"]
    fitted["woe_missing"] = table[regular + 1]["woe"]
    fitted["woe_other"] = table[regular + 2]["woe"]  # values never seen in training: 0
    # rows a row can never fall in are left out: "Special" without special values, "Other"
    # for numbers
    fitted["table"] = [
        r
        for r in table
        if not (r["key"] == WOE_SPECIAL and not fitted["special_values"])
        and not (r["key"] == WOE_OTHER and numeric)
    ]
    fitted["iv"] = iv
    fitted["strength"] = iv_strength(iv)
    fitted["trend"] = _trend([r["event_rate"] for r in table[:regular] if r["count"]])


def _trend(rates: list[float]) -> str:
    """The event-rate trend over the regular bins, as found."""
    if len(rates) < 2:
        return "flat"
    steps = [b - a for a, b in zip(rates, rates[1:], strict=False)]
    if all(s >= 0 for s in steps):
        return "ascending"
    if all(s <= 0 for s in steps):
        return "descending"
    top = int(np.argmax(rates))
    if all(s >= 0 for s in steps[:top]) and all(s <= 0 for s in steps[top:]):
        return "peak"
    low = int(np.argmin(rates))
    if all(s <= 0 for s in steps[:low]) and all(s >= 0 for s in steps[low:]):
        return "valley"
    return "none"


def apply_edit_problem(column: str, numeric: bool, edit: Mapping[str, Any]) -> str | None:
    """A sentence when a manual bin edit does not fit its column's type (None when it does)."""
    if numeric and "splits" not in edit:
        return f'column "{column}" is a number: its edit gives "splits" (a list of numbers).'
    if not numeric and "groups" not in edit:
        return f'column "{column}" holds categories: its edit gives "groups" (lists of values).'
    return None
