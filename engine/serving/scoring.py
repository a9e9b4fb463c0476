"""A loaded model version: validates request rows and scores them (no Spark, no pandas)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from engine.bundle import GBDT_MODEL, LinearScorer, read_manifest
from engine.features.online import as_datetime, canonical, woe_bin
from engine.gbdt_encoding.online import as_category, gbdt_row, prepare_gbdt_columns
from engine.serving.lgbm import Booster
from engine.serving.reasons import gbdt_reasons, linear_reasons, placer, scorecard_reasons

_INTEGER = ("tinyint", "smallint", "int", "bigint")
_NUMBER = (*_INTEGER, "float", "double")
_DATES = ("date", "timestamp", "timestamp_ntz")


def _is_iso_date(text: str) -> bool:
    """What the feature transform reads as a date or a timestamp (ISO 8601)."""
    try:
        as_datetime(text)
    except ValueError:
        return False
    return True


def orjson_repr(value: Any) -> str:
    """A value as JSON text, for error messages."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def known_categories(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """The category values each input column was trained on, where the model keeps them: a
    GBDT's fitted category lists, an LR's fitted vocabularies of discrete features."""
    out: dict[str, list[str]] = {}
    if manifest["model_type"] == "gbdt":
        for c in manifest["gbdt"]["columns"]:
            if c.get("categorical") and c.get("categories") is not None:
                out[c["name"]] = [str(v) for v in c["categories"]]
        return out
    stack = list(manifest.get("transform", {}).get("features", []))
    while stack:
        f = stack.pop()
        if f["kind"] == "combine":
            stack.extend(f["of"])
            continue
        vocab = f.get("fitted", {}).get("vocabulary") if f["kind"] == "discrete" else None
        if f["kind"] == "woe" and f["fitted"]["dtype"] == "categorical":  # a scorecard's groups
            vocab = [c for group in f["fitted"]["groups"] for c in group]
        if vocab is not None:
            out[f["column"]] = sorted(set(out.get(f["column"], [])) | {str(v) for v in vocab})
    return out


def _category_text(kind: str, ctype: str) -> Any:
    if kind == "gbdt":
        return as_category
    return lambda v: canonical(v, ctype)


MAX_KNOWN_SHOWN = 50


def _unseen_warning(col: str, value: str, at: list[int], known: list[str]) -> dict[str, Any]:
    shown = known[:MAX_KNOWN_SHOWN]
    more = f" (and {len(known) - len(shown)} more)" if len(known) > len(shown) else ""
    return {
        "field": col,
        "value": value,
        "instances": at,
        "known_values": shown,
        "message": (
            f"{col} = {orjson_repr(value)} was never seen in training; the model scores it as "
            f"an unknown value. Known values: {', '.join(shown)}{more}."
        ),
    }


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.headers = headers or {}
        super().__init__(message)


class LoadedModel:
    def __init__(self, name: str, version: int, folder: str | Path):
        self.name, self.version, self.folder = name, version, Path(folder)
        self.manifest = read_manifest(self.folder)
        self.kind = self.manifest["model_type"]
        self.threshold = float(self.manifest["threshold"])
        self.positive = self.manifest.get("positive")
        label = self.manifest.get("label")
        self.columns = [
            (c["name"], c["type"]) for c in self.manifest["input_schema"] if c["name"] != label
        ]
        self.column_names = tuple(n for n, _ in self.columns)
        self.classes = list(self.manifest.get("classes") or [])
        self._card = self.manifest.get("scorecard") if self.kind == "scorecard" else None
        self._place = placer(self.manifest)
        if self._card is not None:
            transform = self.manifest["transform"]
            types = {c["name"]: c["type"] for c in transform["input_schema"]}
            self._woe_bins = [(f["column"], woe_bin(f, types)) for f in transform["features"]]
        if self.kind in ("hdlr", "scorecard"):
            self._linear = LinearScorer(self.folder, self.manifest)
        elif self.kind == "gbdt":
            self._gbdt_columns = prepare_gbdt_columns(self.manifest["gbdt"]["columns"])
            self._booster = Booster((self.folder / GBDT_MODEL).read_text("utf-8"))
        else:
            raise ValueError(f"unknown model type {self.kind!r}")
        self.categories = known_categories(self.manifest)
        self._known = [
            (col, frozenset(values), _category_text(self.kind, dict(self.columns).get(col, "")))
            for col, values in self.categories.items()
        ]

    def validate(self, instances: list[Any]) -> None:
        """Every instance must be an object with the model's input columns, of the right types;
        null means a missing value. Extra fields are ignored."""
        for i, row in enumerate(instances):
            if not isinstance(row, Mapping):
                raise RequestError(422, f"instances[{i}] must be an object of column: value.")
            for name, ctype in self.columns:
                if name not in row:
                    raise RequestError(
                        422,
                        f"instances[{i}] has no field '{name}' (the model needs: "
                        f"{', '.join(n for n, _ in self.columns)}; send null for a missing value).",
                    )
                v = row[name]
                if v is None:
                    continue
                if ctype in _NUMBER or ctype.startswith("decimal"):
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise RequestError(
                            422, f"instances[{i}].{name} must be a number. Got {type(v).__name__}."
                        )
                    if isinstance(v, float) and not math.isfinite(v):
                        raise RequestError(422, f"instances[{i}].{name} must be a finite number.")
                    if ctype in _INTEGER and isinstance(v, float) and not v.is_integer():
                        raise RequestError(
                            422, f"instances[{i}].{name} must be a whole number. Got {v}."
                        )
                elif ctype in _DATES:
                    if not isinstance(v, str) or not _is_iso_date(v):
                        raise RequestError(
                            422,
                            f'instances[{i}].{name} must be a date ("2024-05-31") or a date '
                            f'and time ("2024-05-31T08:30:00"). Got {orjson_repr(v)[:40]}.',
                        )
                elif ctype == "boolean":
                    if not isinstance(v, bool):
                        raise RequestError(422, f"instances[{i}].{name} must be true or false.")
                elif not isinstance(v, str):
                    raise RequestError(
                        422, f"instances[{i}].{name} must be a string. Got {type(v).__name__}."
                    )

    def scores(self, instances: list[Mapping[str, Any]]) -> list[float]:
        if self.kind in ("hdlr", "scorecard"):
            return [self._linear.score(r) for r in instances]
        rows = [gbdt_row(self._gbdt_columns, r) for r in instances]
        return self._booster.predict_rows(rows)

    def points(self, instances: list[Mapping[str, Any]]) -> list[float] | None:
        """A scorecard's points per row (offset - factor x log-odds), else None."""
        if self._card is None:
            return None
        factor, offset = self._card["factor"], self._card["offset"]
        return [offset - factor * self._linear.margin(r) for r in instances]

    def explain(self, row: Mapping[str, Any], top: int = 5) -> list[dict[str, Any]]:
        return self.explain_rows([row], top)[0]

    def explain_rows(
        self, rows: list[Mapping[str, Any]], top: int = 5
    ) -> list[list[dict[str, Any]]]:
        """The top reasons behind each score, in plain words (engine/serving/reasons.py): LR
        weight x value per feature, scorecard points lost per variable, GBDT contributions
        (computed by LightGBM for the whole batch in one call)."""
        if self.kind in ("hdlr", "scorecard"):
            t = self._linear.transform
            if self._card is not None:
                out = [
                    scorecard_reasons(self._card, self._bins(row), row, self._place) for row in rows
                ]
            else:
                features = t.fitted["features"]
                out = []
                for row in rows:
                    weights = [self._linear.weights.get(i, 0.0) for i in t(row)[0]]
                    out.append(linear_reasons(features, t.tokens(row), weights, row, self._place))
        else:
            names = [c["name"] for c in self._gbdt_columns]
            contribs = self._booster.contributions_rows(
                [gbdt_row(self._gbdt_columns, r) for r in rows]
            )
            out = [
                gbdt_reasons(names, contrib[:-1], row, self._place)
                for row, contrib in zip(rows, contribs, strict=True)
            ]
        return [parts[:top] for parts in out]

    def _bins(self, row: Mapping[str, Any]) -> list[tuple[str, Any]]:
        return [(column, bin_of(row.get(column))) for column, bin_of in self._woe_bins]

    def unseen_categories(self, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
        """A warning per category column holding a value never seen in training (the model
        reads it as unseen/other); None when every value is known."""
        found: dict[tuple[str, str], list[int]] | None = None
        for col, known, text_of in self._known:
            for i, row in enumerate(rows):
                v = row.get(col)
                if v is not None and text_of(v) not in known:
                    found = found if found is not None else {}
                    found.setdefault((col, text_of(v)), []).append(i)
        if found is None:
            return None
        return [
            _unseen_warning(col, value, at, self.categories[col])
            for (col, value), at in found.items()
        ]

    def inputs_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row as the request log keeps it: the model's input columns only."""
        return {n: row.get(n) for n in self.column_names}

    def label_values(self) -> list[Any]:
        """The labels feedback may carry: the model's two classes; 0/1 and booleans stand for
        negative/positive when the classes are numbers or booleans."""
        if self.classes and all(isinstance(c, str) for c in self.classes):
            return self.classes
        return [0, 1, False, True]

    def check_label(self, label: Any) -> None:
        allowed = self.label_values()
        ok = any(type(label) is type(v) and label == v for v in allowed)
        if not ok:
            shown = ", ".join(orjson_repr(v) for v in allowed)
            raise RequestError(
                422,
                f'"label" must be one of the label values of {self.name}: {shown}. '
                f"Got {orjson_repr(label)[:60]}.",
            )

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "type": self.kind,
            "threshold": self.threshold,
            "positive": self.positive,
            "inputs": [{"name": n, "type": t} for n, t in self.columns],
            "metrics": self.manifest.get("metrics", {}),
        }
