"""The pure-Python compiler of a fitted feature transform (no Spark, no pandas).

Used by the scoring service and by driver-side training. It must give exactly the feature
indices and values that ``engine/features/spark.py`` gives inside Spark; a parity test on
randomized rows guards that. The shared rules:

- every feature yields one entry per row (a datetime feature one per part): a *token*, a
  canonical string, and a value;
- tokens: ``name=value`` for a discrete value (text as is; integers in decimal; booleans
  ``true``/``false``; dates ``YYYY-MM-DD``), ``name=b<k>`` for bucket k (k = how many
  boundaries are <= x), ``a=x&b=y`` for a cross, ``name.part=v`` for a date part,
  ``name=__missing__`` for a missing value (null, or NaN for numbers), ``name=__other__``
  for a discrete value outside a fitted vocabulary; a continuous feature's token is its
  name and its value is the transformed number;
- a weight-of-evidence feature (``kind: woe``, fitted by features.woe) has the token ``name``
  and the WOE of the row's bin as its value: a number's bin k counts the splits <= x, a
  category's bin is the group that lists its text; special values, missing values (null, NaN)
  and categories never seen in training have bins (and WOEs) of their own;
- index = xxhash64(token as UTF-8, seed 42) mod 2^bits; value 1.0 except continuous and woe.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import xxhash

from engine.features.config import MISSING, OTHER, feature_name, transforms_of
from engine.features.fdlibm import log1p

HASH_SEED = 42
TRANSFORM_FORMAT = 1

Row = Mapping[str, Any]
Entry = Callable[[Row], tuple[str, float]]


def token_index(token: str, bits: int) -> int:
    return xxhash.xxh64_intdigest(token.encode("utf-8"), seed=HASH_SEED) & ((1 << bits) - 1)


def _missing_number(x: Any) -> bool:
    return x is None or (isinstance(x, float) and x != x)


def canonical(value: Any, ctype: str) -> str:
    """A discrete value as text, the way Spark casts it to string."""
    if ctype == "boolean":
        return "true" if value else "false"
    if ctype in ("tinyint", "smallint", "int", "bigint"):
        return str(int(value))
    if ctype == "date":
        return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)[:10]
    return str(value)


def as_datetime(value: Any) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return value
    text = str(value).replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    return as_datetime(parsed)


_PARTS: dict[str, Callable[[Any], int]] = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day": lambda d: d.day,
    "weekday": lambda d: d.weekday(),  # 0 = Monday, as Spark's weekday()
    "hour": lambda d: d.hour,
    "minute": lambda d: d.minute,
    "dayofyear": lambda d: d.timetuple().tm_yday,
}


def continuous_value(x: float, feature: Mapping[str, Any]) -> float:
    fitted = feature.get("fitted", {})
    for t in transforms_of(feature):
        if t == "clip":
            lo, hi = fitted["clip"]
            x = min(max(x, lo), hi)
        elif t == "log1p":
            x = math.copysign(log1p(abs(x)), x)  # fdlibm's log1p, as Spark's
        elif t == "standardize":
            x = (x - fitted["mean"]) / fitted["std"]
    return float(x)


def _member_token(feature: Mapping[str, Any], types: Mapping[str, str]) -> Callable[[Row], str]:
    """The token function of a discrete or bucket feature (also used inside crosses)."""
    name = feature_name(feature)
    col = feature["column"]
    missing = f"{name}={MISSING}"
    if feature["kind"] == "discrete":
        ctype = types.get(col, "string")
        vocab = feature.get("fitted", {}).get("vocabulary")
        allowed = frozenset(vocab) if vocab is not None else None
        other = f"{name}={OTHER}"

        def discrete(row: Row) -> str:
            v = row.get(col)
            if v is None:
                return missing
            text = canonical(v, ctype)
            if allowed is not None and text not in allowed:
                return other
            return f"{name}={text}"

        return discrete
    boundaries = [float(b) for b in feature["fitted"]["boundaries"]]
    prefix = f"{name}=b"

    def bucket(row: Row) -> str:
        v = row.get(col)
        if _missing_number(v):
            return missing
        return prefix + str(bisect.bisect_right(boundaries, float(v)))

    return bucket


WOE_MISSING, WOE_SPECIAL, WOE_OTHER = "missing", "special", "other"


def woe_bin(feature: Mapping[str, Any], types: Mapping[str, str]) -> Callable[[Any], Any]:
    """The bin function of a fitted woe feature: a raw value -> its bin (an integer for a
    regular bin, else "missing", "special" or "other")."""
    fitted = feature["fitted"]
    if fitted["dtype"] == "numerical":
        splits = [float(b) for b in fitted["splits"]]
        specials = frozenset(float(v) for v in fitted.get("special_values", []))

        def number_bin(v: Any) -> Any:
            if _missing_number(v):
                return WOE_MISSING
            x = float(v)
            if x in specials:
                return WOE_SPECIAL
            return bisect.bisect_right(splits, x)

        return number_bin
    ctype = types.get(feature["column"], "string")
    groups = {str(c): k for k, group in enumerate(fitted["groups"]) for c in group}
    special_text = frozenset(str(v) for v in fitted.get("special_values", []))

    def category_bin(v: Any) -> Any:
        if v is None:
            return WOE_MISSING
        text = canonical(v, ctype)
        if text in special_text:
            return WOE_SPECIAL
        return groups.get(text, WOE_OTHER)

    return category_bin


def woe_values(fitted: Mapping[str, Any]) -> dict[Any, float]:
    """Bin -> WOE of a fitted woe feature."""
    out: dict[Any, float] = {k: float(w) for k, w in enumerate(fitted["woe"])}
    out[WOE_MISSING] = float(fitted["woe_missing"])
    out[WOE_SPECIAL] = float(fitted["woe_special"])
    out[WOE_OTHER] = float(fitted.get("woe_other", 0.0))
    return out


def _entries(feature: Mapping[str, Any], types: Mapping[str, str]) -> list[Entry]:
    kind = feature["kind"]
    name = feature_name(feature)
    if kind == "woe":
        col = feature["column"]
        bin_of = woe_bin(feature, types)
        woe = woe_values(feature["fitted"])
        return [lambda row: (name, woe[bin_of(row.get(col))])]
    if kind in ("discrete", "bucket"):
        token = _member_token(feature, types)
        return [lambda row, token=token: (token(row), 1.0)]
    if kind == "combine":
        members = [_member_token(m, types) for m in feature["of"]]

        def cross(row: Row) -> tuple[str, float]:
            return "&".join(m(row) for m in members), 1.0

        return [cross]
    if kind == "continuous":
        col = feature["column"]
        missing = f"{name}={MISSING}"

        def continuous(row: Row) -> tuple[str, float]:
            v = row.get(col)
            if _missing_number(v):
                return missing, 1.0
            return name, continuous_value(float(v), feature)

        return [continuous]
    # datetime: one entry per part
    col = feature["column"]
    out: list[Entry] = []
    for part in feature["parts"]:
        get = _PARTS[part]
        missing = f"{name}.{part}={MISSING}"
        prefix = f"{name}.{part}="

        def date_part(
            row: Row, get: Callable[[Any], int] = get, missing: str = missing, prefix: str = prefix
        ) -> tuple[str, float]:
            v = row.get(col)
            if v is None:
                return missing, 1.0
            return prefix + str(get(as_datetime(v))), 1.0

        out.append(date_part)
    return out


class CompiledTransform:
    """A fitted transform as a function of one row (a mapping of column to value)."""

    def __init__(self, fitted: Mapping[str, Any]):
        fmt = fitted.get("seer_transform")
        if fmt != TRANSFORM_FORMAT:
            raise ValueError(
                f"unsupported feature transform format {fmt!r} (this Seer reads {TRANSFORM_FORMAT})"
            )
        self.fitted = fitted
        self.bits = int(fitted["hash_bits"])
        self.mask = (1 << self.bits) - 1
        types = {c["name"]: c["type"] for c in fitted.get("input_schema", [])}
        self.input_columns = sorted({c for f in fitted["features"] for c in _columns(f)})
        self._entries = [e for f in fitted["features"] for e in _entries(f, types)]
        self._cache: dict[str, int] = {}

    def tokens(self, row: Row) -> list[tuple[str, float]]:
        return [e(row) for e in self._entries]

    def __call__(self, row: Row) -> tuple[list[int], list[float]]:
        idx: list[int] = []
        val: list[float] = []
        cache = self._cache
        for e in self._entries:
            token, value = e(row)
            i = cache.get(token)
            if i is None:
                i = xxhash.xxh64_intdigest(token.encode("utf-8"), seed=HASH_SEED) & self.mask
                if len(cache) < 200_000:
                    cache[token] = i
            idx.append(i)
            val.append(value)
        return idx, val


def _columns(feature: Mapping[str, Any]) -> list[str]:
    if feature["kind"] == "combine":
        return [c for m in feature["of"] for c in _columns(m)]
    return [feature["column"]]


def compile_transform(fitted: Mapping[str, Any]) -> CompiledTransform:
    return CompiledTransform(fitted)
