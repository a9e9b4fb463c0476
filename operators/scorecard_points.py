"""Points scaling of a scorecard: a logistic regression on WOE features turned into points.

The model gives the log-odds of the event (the positive class: a default):
    margin = intercept + sum_j coefficient_j x WOE_j
and the score in points grows with the odds of a non-event ("good:bad"):
    points = offset + factor x ln(good:bad odds) = offset - factor x margin
    factor = PDO / ln 2                              (PDO points double the odds)
    offset = base_score - factor x ln(base_odds)     (base_score points at base_odds : 1)
Each variable's bin gets its share, so the points of a row are the sum of its attributes':
    points(j, bin) = -(coefficient_j x WOE(j, bin) + intercept / n) x factor + offset / n
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def scaling(pdo: float, base_score: float, base_odds: float) -> tuple[float, float]:
    """(factor, offset) of a points scale."""
    factor = pdo / math.log(2)
    return factor, base_score - factor * math.log(base_odds)


def points_of_margin(margin: float, factor: float, offset: float) -> float:
    return offset - factor * margin


def attribute_points(
    coefficient: float, woe: float, intercept: float, n_variables: int, factor: float, offset: float
) -> float:
    return -(coefficient * woe + intercept / n_variables) * factor + offset / n_variables


def points_table(
    variables: Sequence[Mapping[str, Any]], intercept: float, factor: float, offset: float
) -> list[dict[str, Any]]:
    """One row per variable and bin: the WOE, the points, and the bin's training counts.
    ``variables`` holds, per selected variable, its fitted woe feature and coefficient."""
    n = len(variables)
    rows = []
    for v in variables:
        fitted = v["feature"]["fitted"]
        for b in fitted["table"]:
            rows.append(
                {
                    "variable": v["feature"]["column"],
                    "bin": b["bin"],
                    "key": b["key"],
                    "woe": b["woe"],
                    "coefficient": v["coefficient"],
                    "points": attribute_points(
                        v["coefficient"], b["woe"], intercept, n, factor, offset
                    ),
                    "count": b["count"],
                    "event_rate": b["event_rate"],
                }
            )
    return rows


def points_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The points table as CSV (variable, bin, woe, points, rounded points, count, event rate)."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["variable", "bin", "woe", "points", "points_rounded", "count", "event_rate"])
    for r in rows:
        rate = "" if r["event_rate"] is None else f"{r['event_rate']:.6f}"
        w.writerow(
            [
                r["variable"],
                r["bin"],
                f"{r['woe']:.6f}",
                f"{r['points']:.6f}",
                round(r["points"]),
                r["count"],
                rate,
            ]
        )
    return out.getvalue()
