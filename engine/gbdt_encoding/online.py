"""The online half of the GBDT column encoding: one JSON row at a time, in pure Python.

Gives what ``engine/gbdt_encoding/spark.py`` gives for the same row. Imports neither pyspark
nor pyarrow nor numpy, so the scoring service can use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def prepare_gbdt_columns(columns: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The bundle's column spec with each category's code looked up once."""
    out = []
    for c in columns:
        d = dict(c)
        d["_codes"] = {v: i for i, v in enumerate(c.get("categories") or [])}
        out.append(d)
    return out


def gbdt_row(columns: list[Mapping[str, Any]], row: Mapping[str, Any]) -> list[float]:
    """One row as LightGBM's input: numbers as floats, categories as their codes, missing or
    unseen values as NaN. ``columns`` comes from prepare_gbdt_columns."""
    out = []
    for c in columns:
        v = row.get(c["name"])
        if v is None:
            out.append(math.nan)
        elif c["categorical"]:
            code = c["_codes"].get(_as_category(v))
            out.append(math.nan if code is None else float(code))
        else:
            out.append(float(v))
    return out


def _as_category(v: Any) -> str:
    """A value as the text Spark's ``cast("string")`` gives it (the categories were fitted on
    that text): a boolean is "true" or "false"."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


# the scoring service names the value it could not find with the same text
as_category = _as_category
