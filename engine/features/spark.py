"""The Spark compiler of a fitted feature transform: plain column expressions, no Python UDF.

Gives exactly the indices and values of ``engine/features/online.py`` (see its docstring for
the shared rules); the sparse vector is kept as ``array<int>`` indices plus ``array<double>``
values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.features.config import MISSING, OTHER, feature_name, transforms_of

INDEX_COL = "features_idx"
VALUE_COL = "features_val"


def _F() -> Any:
    from pyspark.sql import functions as F

    return F


def _col(name: str) -> Any:
    return _F().col(f"`{name}`")


def _is_missing_number(c: Any) -> Any:
    F = _F()
    return c.isNull() | F.isnan(c)


def _member_token(feature: Mapping[str, Any], types: Mapping[str, str]) -> Any:
    F = _F()
    name = feature_name(feature)
    col = _col(feature["column"])
    missing = F.lit(f"{name}={MISSING}")
    if feature["kind"] == "discrete":
        text = col.cast("string")
        vocab = feature.get("fitted", {}).get("vocabulary")
        token = F.concat(F.lit(f"{name}="), text)
        if vocab is not None:
            token = F.when(text.isin(list(vocab)), token).otherwise(F.lit(f"{name}={OTHER}"))
        return F.when(col.isNull(), missing).otherwise(token)
    x = col.cast("double")
    bounds = F.array(*[F.lit(float(b)) for b in feature["fitted"]["boundaries"]])
    k = F.size(F.filter(bounds, lambda b: b <= x))
    return F.when(_is_missing_number(x), missing).otherwise(
        F.concat(F.lit(f"{name}=b"), k.cast("string"))
    )


def _continuous_value(x: Any, feature: Mapping[str, Any]) -> Any:
    F = _F()
    fitted = feature.get("fitted", {})
    for t in transforms_of(feature):
        if t == "clip":
            lo, hi = fitted["clip"]
            x = F.least(F.greatest(x, F.lit(float(lo))), F.lit(float(hi)))
        elif t == "log1p":
            x = F.signum(x) * F.log1p(F.abs(x))
        elif t == "standardize":
            x = (x - F.lit(float(fitted["mean"]))) / F.lit(float(fitted["std"]))
    return x


_PARTS = {
    "year": "year",
    "month": "month",
    "day": "dayofmonth",
    "weekday": "weekday",
    "hour": "hour",
    "minute": "minute",
    "dayofyear": "dayofyear",
}


def woe_value(feature: Mapping[str, Any]) -> Any:
    """The WOE of a fitted woe feature's bin for each row (see engine/features/online.py)."""
    F = _F()
    fitted = feature["fitted"]
    col = _col(feature["column"])
    specials = list(fitted.get("special_values", []))
    missing, special = F.lit(float(fitted["woe_missing"])), F.lit(float(fitted["woe_special"]))
    if fitted["dtype"] == "numerical":
        x = col.cast("double")
        bounds = F.array(*[F.lit(float(b)) for b in fitted["splits"]])
        k = F.size(F.filter(bounds, lambda b: b <= x))
        woes = F.array(*[F.lit(float(w)) for w in fitted["woe"]])
        out = F.when(_is_missing_number(x), missing)
        if specials:
            out = out.when(x.isin([float(v) for v in specials]), special)
        return out.otherwise(F.element_at(woes, k + 1))
    text = col.cast("string")
    out = F.when(col.isNull(), missing)
    if specials:
        out = out.when(text.isin([str(v) for v in specials]), special)
    for group, w in zip(fitted["groups"], fitted["woe"], strict=True):
        out = out.when(text.isin([str(c) for c in group]), F.lit(float(w)))
    return out.otherwise(F.lit(float(fitted.get("woe_other", 0.0))))


def _entries(feature: Mapping[str, Any], types: Mapping[str, str]) -> list[tuple[Any, Any]]:
    """(token expression, value expression) pairs of one feature."""
    F = _F()
    kind = feature["kind"]
    name = feature_name(feature)
    one = F.lit(1.0)
    if kind == "woe":
        return [(F.lit(name), woe_value(feature))]
    if kind in ("discrete", "bucket"):
        return [(_member_token(feature, types), one)]
    if kind == "combine":
        return [(F.concat_ws("&", *[_member_token(m, types) for m in feature["of"]]), one)]
    col = _col(feature["column"])
    if kind == "continuous":
        x = col.cast("double")
        missing = _is_missing_number(x)
        token = F.when(missing, F.lit(f"{name}={MISSING}")).otherwise(F.lit(name))
        value = F.when(missing, one).otherwise(_continuous_value(x, feature))
        return [(token, value)]
    out = []
    for part in feature["parts"]:
        fn = getattr(F, _PARTS[part])
        token = F.when(col.isNull(), F.lit(f"{name}.{part}={MISSING}")).otherwise(
            F.concat(F.lit(f"{name}.{part}="), fn(col).cast("string"))
        )
        out.append((token, one))
    return out


def feature_columns(fitted: Mapping[str, Any]) -> tuple[Any, Any]:
    """The (indices, values) column expressions of a fitted transform."""
    F = _F()
    types = {c["name"]: c["type"] for c in fitted.get("input_schema", [])}
    pairs = [p for f in fitted["features"] for p in _entries(f, types)]
    modulus = F.lit(1 << int(fitted["hash_bits"]))
    idx = F.array(*[F.pmod(F.xxhash64(t), modulus).cast("int") for t, _ in pairs])
    val = F.array(*[v.cast("double") for _, v in pairs])
    return idx, val


def apply_transform(df: Any, fitted: Mapping[str, Any], keep: list[str] | None = None) -> Any:
    """The table's kept columns (the label first) plus the sparse feature vector."""
    idx, val = feature_columns(fitted)
    label = fitted.get("label")
    cols = [c for c in ([label] if label else []) + list(keep or []) if c in df.columns]
    cols = list(dict.fromkeys(cols))
    return df.select(*[_col(c) for c in cols], idx.alias(INDEX_COL), val.alias(VALUE_COL))
