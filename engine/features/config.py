"""The feature configuration: definitions as data, their validation, names and text form.

A feature configuration is a list of definitions (the flow file stores it as JSON):

    {"kind": "continuous", "column": "age", "transform": "log1p"}
    {"kind": "discrete", "column": "job", "min_count": 5}
    {"kind": "bucket", "column": "age", "buckets": 10}        (or "boundaries": [...])
    {"kind": "combine", "of": [<discrete or bucket definition>, ...]}
    {"kind": "datetime", "column": "ts", "parts": ["hour", "weekday"]}

each with an optional "name". Every definition becomes one or more tokens — canonical strings
such as ``job=admin``, ``age=b3``, ``job=admin&age=b3`` — hashed into a 2^bits space (see
``engine/features/online.py``). This module knows nothing of Spark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

KINDS = ("continuous", "discrete", "bucket", "combine", "datetime")
TRANSFORMS = ("none", "log1p", "standardize", "clip")
DATETIME_PARTS = ("year", "month", "day", "weekday", "hour", "minute", "dayofyear")
MIN_BITS, MAX_BITS = 10, 30
MISSING = "__missing__"
OTHER = "__other__"

NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
DISCRETE_TYPES = (*INTEGER_TYPES, "string", "boolean", "date")
TIME_TYPES = ("date", "timestamp", "timestamp_ntz")

_KEYS = {
    "continuous": {"kind", "column", "name", "transform", "clip"},
    "discrete": {"kind", "column", "name", "min_count"},
    "bucket": {"kind", "column", "name", "buckets", "boundaries"},
    "combine": {"kind", "of", "name"},
    "datetime": {"kind", "column", "name", "parts"},
}


class FeatureConfigError(ValueError):
    """A problem with one feature definition; ``feature`` names it for the user."""

    def __init__(self, feature: str, message: str):
        self.feature = feature
        super().__init__(f"Feature {feature}: {message}")


def describe(defn: Mapping[str, Any]) -> str:
    """A short label of a definition for messages: 'bucket(age)', 'combine(job, age)'."""
    if not isinstance(defn, Mapping):
        return repr(defn)
    kind = defn.get("kind", "?")
    if kind == "combine":
        members = defn.get("of")
        members = members if isinstance(members, list) else []
        return "combine(" + ", ".join(describe(m) for m in members) + ")"
    return f"{kind}({defn.get('column', '?')})"


def feature_name(defn: Mapping[str, Any]) -> str:
    if defn.get("name"):
        return str(defn["name"])
    if defn["kind"] == "combine":
        return "&".join(feature_name(m) for m in defn["of"])
    return str(defn["column"])


def transforms_of(defn: Mapping[str, Any]) -> list[str]:
    t = defn.get("transform") or "none"
    return [x for x in ([t] if isinstance(t, str) else list(t)) if x != "none"]


def validate_config(
    features: Any, hash_bits: Any = 20, schema: Mapping[str, str] | None = None
) -> list[FeatureConfigError]:
    """Every problem of a configuration, each naming its feature. With ``schema`` (column ->
    Spark type) the columns and their types are checked too."""
    problems: list[FeatureConfigError] = []
    if (
        not isinstance(hash_bits, int)
        or isinstance(hash_bits, bool)
        or not MIN_BITS <= hash_bits <= MAX_BITS
    ):
        problems.append(
            FeatureConfigError(
                "space",
                f"hash_bits must be an integer in [{MIN_BITS}, {MAX_BITS}]. Got {hash_bits!r}.",
            )
        )
    if not isinstance(features, list) or not features:
        problems.append(
            FeatureConfigError("list", "the configuration needs at least one feature definition.")
        )
        return problems
    names: dict[str, str] = {}
    for i, defn in enumerate(features):
        label = f"#{i + 1} {describe(defn)}"
        errs = _check(defn, label, schema, top=True)
        problems += errs
        if not errs:
            name = feature_name(defn)
            if name in names:
                problems.append(
                    FeatureConfigError(
                        label, f'has the same name "{name}" as {names[name]}; give one a "name".'
                    )
                )
            names[name] = label
    return problems


def _check(
    defn: Any, label: str, schema: Mapping[str, str] | None, top: bool
) -> list[FeatureConfigError]:
    if not isinstance(defn, Mapping):
        return [FeatureConfigError(label, "a definition must be an object with a 'kind'.")]
    kind = defn.get("kind")
    if kind not in KINDS:
        return [FeatureConfigError(label, f"unknown kind {kind!r}; use one of {', '.join(KINDS)}.")]
    out = _check_keys(defn, kind, label)
    if kind == "combine":
        return out + _check_combine(defn, label, schema)
    col = defn.get("column")
    if not isinstance(col, str) or not col:
        return [*out, FeatureConfigError(label, "needs a 'column'.")]
    ctype = None
    if schema is not None:
        if col not in schema:
            import difflib

            close = difflib.get_close_matches(col, list(schema), n=1, cutoff=0.6)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            return [*out, FeatureConfigError(label, f'column "{col}" is not in the input.{hint}')]
        ctype = schema[col]
    check = _KIND_CHECKS.get(kind)
    return out + (check(defn, label, ctype) if check else [])


def _check_keys(defn: Mapping[str, Any], kind: str, label: str) -> list[FeatureConfigError]:
    out = []
    extra = set(defn) - _KEYS[kind]
    if extra:
        out.append(FeatureConfigError(label, f"{kind} takes no {', '.join(sorted(extra))}."))
    if "name" in defn and (
        not isinstance(defn["name"], str) or not re.fullmatch(r"[^=&\s]{1,64}", defn["name"])
    ):
        out.append(
            FeatureConfigError(label, "a name is 1-64 characters without spaces, '=' or '&'.")
        )
    return out


def _not_numeric(
    defn: Mapping[str, Any], label: str, ctype: str | None
) -> list[FeatureConfigError]:
    if ctype is not None and ctype not in NUMERIC_TYPES and not ctype.startswith("decimal"):
        return [
            FeatureConfigError(
                label, f'column "{defn["column"]}" is {ctype}, not numeric; use discrete.'
            )
        ]
    return []


def _check_continuous(
    defn: Mapping[str, Any], label: str, ctype: str | None
) -> list[FeatureConfigError]:
    out = []
    bad = [t for t in transforms_of(defn) if t not in TRANSFORMS]
    if bad:
        out.append(
            FeatureConfigError(label, f"unknown transform {bad[0]!r}; use {', '.join(TRANSFORMS)}.")
        )
    clip = defn.get("clip")
    if clip is not None and not (
        isinstance(clip, list)
        and len(clip) == 2
        and all(_is_number(x) for x in clip)
        and clip[0] < clip[1]
    ):
        out.append(FeatureConfigError(label, "'clip' must be [low, high] with low < high."))
    return out + _not_numeric(defn, label, ctype)


def _check_discrete(
    defn: Mapping[str, Any], label: str, ctype: str | None
) -> list[FeatureConfigError]:
    out = []
    mc = defn.get("min_count", 1)
    if not isinstance(mc, int) or isinstance(mc, bool) or mc < 1:
        out.append(FeatureConfigError(label, f"'min_count' must be an integer >= 1. Got {mc!r}."))
    if ctype is not None and ctype not in DISCRETE_TYPES:
        hint = (
            "bucket it"
            if ctype in NUMERIC_TYPES or ctype.startswith("decimal")
            else "cast it first"
        )
        out.append(
            FeatureConfigError(
                label,
                f'column "{defn["column"]}" is {ctype}; discrete takes text, integer, '
                f"boolean or date columns: {hint}.",
            )
        )
    return out


def _check_bucket(
    defn: Mapping[str, Any], label: str, ctype: str | None
) -> list[FeatureConfigError]:
    out = []
    has_n, has_b = "buckets" in defn, "boundaries" in defn
    if has_n == has_b:
        out.append(
            FeatureConfigError(label, "give either 'buckets' (a count) or 'boundaries' (a list).")
        )
    elif has_n:
        n = defn["buckets"]
        if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= 1000:
            out.append(
                FeatureConfigError(label, f"'buckets' must be an integer in [2, 1000]. Got {n!r}.")
            )
    else:
        b = defn["boundaries"]
        if not (
            isinstance(b, list) and b and all(_is_number(x) for x in b) and b == sorted(set(b))
        ):
            out.append(
                FeatureConfigError(
                    label,
                    "'boundaries' must be a non-empty, strictly increasing list of numbers.",
                )
            )
    return out + _not_numeric(defn, label, ctype)


def _check_datetime(
    defn: Mapping[str, Any], label: str, ctype: str | None
) -> list[FeatureConfigError]:
    out = []
    parts = defn.get("parts")
    if not isinstance(parts, list) or not parts or any(p not in DATETIME_PARTS for p in parts):
        out.append(
            FeatureConfigError(
                label, f"'parts' must be a non-empty list of {', '.join(DATETIME_PARTS)}."
            )
        )
    elif len(set(parts)) != len(parts):
        out.append(FeatureConfigError(label, "'parts' lists a part twice."))
    if ctype is not None and ctype not in TIME_TYPES:
        out.append(
            FeatureConfigError(
                label, f'column "{defn["column"]}" is {ctype}, not a date or timestamp.'
            )
        )
    if ctype == "date" and isinstance(parts, list) and ({"hour", "minute"} & set(parts)):
        out.append(
            FeatureConfigError(
                label, f'column "{defn["column"]}" is a date: it has no hour or minute.'
            )
        )
    return out


def _check_combine(
    defn: Mapping[str, Any], label: str, schema: Mapping[str, str] | None
) -> list[FeatureConfigError]:
    members = defn.get("of")
    if not isinstance(members, list) or len(members) < 2:
        return [
            FeatureConfigError(label, "'of' must list at least two discrete or bucket definitions.")
        ]
    out = []
    for j, m in enumerate(members):
        mlabel = f"{label} member {j + 1}"
        if isinstance(m, Mapping) and m.get("kind") not in ("discrete", "bucket"):
            what = m.get("kind")
            why = (
                " — a continuous column must be bucketed to be crossed: use bucket"
                if what == "continuous"
                else ""
            )
            out.append(
                FeatureConfigError(
                    mlabel, f"a cross takes discrete or bucket members, not {what}{why}."
                )
            )
            continue
        out += _check(m, mlabel, schema, top=False)
    return out


_KIND_CHECKS = {
    "continuous": _check_continuous,
    "discrete": _check_discrete,
    "bucket": _check_bucket,
    "datetime": _check_datetime,
}


def _is_number(x: Any) -> bool:
    return (
        isinstance(x, (int, float))
        and not isinstance(x, bool)
        and x == x
        and abs(x) != float("inf")
    )


# -- text form ------------------------------------------------------------------------------
def to_text(features: Iterable[Mapping[str, Any]]) -> str:
    """One line per feature, e.g. ``bucket age 10`` or ``combine discrete job x bucket age 10``."""
    return "\n".join(_line(d) for d in features)


def _line(d: Mapping[str, Any]) -> str:
    kind = d["kind"]
    name = f" as {d['name']}" if d.get("name") else ""
    if kind == "combine":
        return "combine " + " x ".join(_line(m) for m in d["of"]) + name
    head = f"{kind} {d['column']}"
    if kind == "continuous":
        ts = transforms_of(d)
        head += (" " + ",".join(ts)) if ts else ""
        if d.get("clip"):
            head += f" clip {json.dumps(d['clip'])}"
    elif kind == "discrete" and d.get("min_count", 1) > 1:
        head += f" min_count {d['min_count']}"
    elif kind == "bucket":
        head += f" {d['buckets']}" if "buckets" in d else f" {json.dumps(d['boundaries'])}"
    elif kind == "datetime":
        head += " " + ",".join(d["parts"])
    return head + name
