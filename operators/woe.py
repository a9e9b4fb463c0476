"""features.woe: optimal binning with weight of evidence and information value per column."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
)
from operators.features import emit_transformed, feature_output_schemas
from operators.modeling import POSITIVE, col, hash_sample, resolve_label
from operators.woe_binning import TRENDS, apply_edit_problem, fit_woe_column, is_numeric

WOE_HASH_BITS = 20
BINNABLE = ("string", "boolean")
INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
EDIT_ITEMS = {
    "type": "object",
    "required": ["column"],
    "properties": {
        "column": {"type": "string", "minLength": 1},
        "splits": {"type": "array", "items": {"type": "number"}},
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {"type": ["string", "number", "boolean"]},
            },
        },
    },
    "additionalProperties": False,
}


def woe_columns(schema: Mapping[str, str], label: str, params: Mapping[str, Any]) -> list[str]:
    """The columns to bin: the 'columns' param, or every number, text and boolean column but
    the label, the excluded and the kept ones."""
    if params.get("columns"):
        return list(params["columns"])
    skip = {label, *(params.get("exclude") or []), *(params.get("keep") or [])}
    return [c for c, t in schema.items() if c not in skip and (is_numeric(t) or t in BINNABLE)]


def fit_woe_transform(
    ctx: RunContext, train: Any, params: Mapping[str, Any], where: str
) -> tuple[dict[str, Any], list[Any]]:
    """Fit the woe features of a table on a content-hash sample collected to the driver;
    returns the fitted transform (data) and the label's two classes."""
    label = params["label"]
    y_col, positive, classes = resolve_label(train, label, params.get("positive"), where)
    schema = {f.name: f.dataType.simpleString() for f in train.schema.fields}
    columns = woe_columns(schema, label, params)
    coded = set(params.get("as_categories") or [])
    bad = [c for c in coded if c not in schema or schema[c] not in INTEGER_TYPES + BINNABLE]
    if bad:
        raise OperatorError(
            f"The 'as_categories' parameter of {where} names {', '.join(bad)}: give integer "
            "(or text) columns of the input."
        )
    edits = _edits_by_column(params.get("bin_edits") or [], schema, where, coded)
    if not columns:
        raise OperatorError(f"{where}: there is no number, text or boolean column to bin.")
    total = train.count()
    share = min(1.0, params.get("sample_rows", 1_000_000) / max(total, 1))
    table = (
        hash_sample(train, share, 11)
        .select(*[col(c) for c in columns], y_col.alias("__y"))
        .toArrow()
    )
    y = table.column("__y").to_numpy(zero_copy_only=False).astype(int)
    ctx.log(f"binning {len(columns)} columns on {table.num_rows:,} of {total:,} rows")
    features = []
    trends = params.get("column_trends") or {}
    for c in columns:
        ctx.check_cancelled()
        options = {
            "max_bins": params.get("max_bins", 10),
            "min_bin_share": params.get("min_bin_share", 0.05),
            "monotonic_trend": trends.get(c, params.get("monotonic_trend", "auto")),
            "special_values": (params.get("special_values") or {}).get(c, []),
        }
        arr = table.column(c)
        coded = c in set(params.get("as_categories") or [])
        x = (
            np.asarray(arr.cast("double").to_numpy(zero_copy_only=False), dtype=float)
            if is_numeric(schema[c]) and not coded
            else np.array(arr.to_pylist(), dtype=object)
        )
        features.append(fit_woe_column(c, schema[c], x, y, options, edits.get(c), coded))
    used = [*columns, label]
    fitted = {
        "seer_transform": 1,
        "hash_bits": WOE_HASH_BITS,
        "label": label,
        "positive": positive,
        "input_schema": [{"name": c, "type": schema[c]} for c in used],
        "features": features,
        "fitted_on": {"rows": total, "sampled_rows": table.num_rows},
    }
    return fitted, classes


def _edits_by_column(
    edits: list[Mapping[str, Any]], schema: Mapping[str, str], where: str, coded: set[str]
) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for e in edits:
        c = e["column"]
        if c not in schema:
            raise OperatorError(
                f"The 'bin_edits' parameter of {where} names the column \"{c}\", which is not in "
                f"its input. Columns: {', '.join(schema)}."
            )
        problem = apply_edit_problem(c, is_numeric(schema[c]) and c not in coded, e)
        if problem:
            raise OperatorError(f"The 'bin_edits' parameter of {where}: {problem}")
        out[c] = e
    return out


def woe_report(fitted: Mapping[str, Any]) -> dict[str, Any]:
    """Each column's bins (count, event rate, WOE, IV) and IV, strongest first."""
    columns = []
    for f in fitted["features"]:
        fit = f["fitted"]
        columns.append(
            {
                "column": f["column"],
                "type": fit["dtype"],
                "iv": fit["iv"],
                "strength": fit["strength"],
                "trend": fit["trend"],
                "bins_from": fit["source"],
                "bins": [{k: v for k, v in row.items() if k != "key"} for row in fit["table"]],
            }
        )
    columns.sort(key=lambda c: -c["iv"])
    return {
        "label": fitted["label"],
        "positive": fitted.get("positive"),
        "rows": fitted["fitted_on"]["rows"],
        "iv_reading": "useless < 0.02 <= weak < 0.1 <= medium < 0.3 <= strong",
        "columns": columns,
    }


class FeaturesWoe(Operator):
    id = "features.woe"
    version = 1
    category = "Features"
    title = "WOE binning"
    description = (
        "Optimal binning for scorecards: cuts each column (numbers and categories) into bins "
        "of at least a minimum share of the rows, with an event rate that follows a monotonic "
        "trend, and replaces the value by the bin's weight of evidence (WOE). Missing and "
        "special values get bins of their own. The report lists every column's bins (count, "
        "event rate, WOE, IV) and its information value, read as useless (< 0.02), weak "
        "(< 0.1), medium (< 0.3) or strong. Bins can be set by hand in 'bin_edits' (merge two "
        "bins by leaving out the split between them, split one by adding a split). The fitted "
        "bins travel with models as data, applied alike in Spark and in the scoring service."
    )
    inputs = (
        Port("train", "table", "The rows the bins are fitted on (with the label)."),
        Port("test", "table", "Rows transformed with the same bins.", optional=True),
    )
    outputs = (
        Port("train", "table", "Label, kept columns and the WOE feature vector."),
        Port("test", "table", "The test rows, transformed alike.", optional=True),
        Port("transform", "transform", "The fitted bins and WOEs (JSON)."),
        Port("report", "report", "Each column's bins, WOE and information value."),
    )
    params = (
        Param(
            "label",
            "string",
            "The label column (0/1, true/false or two strings); the event is its positive class.",
            required=True,
            min_length=1,
            widget="column",
            title="Label",
        ),
        POSITIVE,
        Param(
            "columns",
            "array",
            "The columns to bin (empty: every number, text and boolean column but the label).",
            default=[],
            items={"type": "string"},
            widget="columns",
            title="Columns",
        ),
        Param(
            "exclude",
            "array",
            "Columns to leave out when binning every column (e.g. an id).",
            default=[],
            items={"type": "string"},
            widget="columns",
            title="Exclude",
        ),
        Param(
            "as_categories",
            "array",
            "Integer columns that hold codes (a status, a delinquency code): binned as "
            "categories, each code with its own risk, rather than as an ordered number.",
            default=[],
            items={"type": "string"},
            widget="columns",
            title="Codes as categories",
        ),
        Param(
            "max_bins",
            "integer",
            "The most bins a column is cut into (missing and special values not counted).",
            default=10,
            minimum=2,
            maximum=50,
            widget="number",
            title="Maximum bins",
        ),
        Param(
            "min_bin_share",
            "number",
            "The smallest share of the rows a bin may hold (0.05 = 5 %).",
            default=0.05,
            minimum=0.001,
            maximum=0.5,
            widget="number",
            title="Minimum bin size",
        ),
        Param(
            "monotonic_trend",
            "string",
            "How the event rate must move across a number's bins: auto (rising or falling, "
            "whichever fits), ascending, descending, peak (up then down), valley, or none.",
            default="auto",
            enum=TRENDS,
            widget="select",
            title="Monotonic trend",
        ),
        Param(
            "column_trends",
            "object",
            "A trend for some columns, overriding 'monotonic_trend' (column: trend).",
            default={},
            values={"type": "string", "enum": list(TRENDS)},
            widget="mapping",
            title="Trend per column",
        ),
        Param(
            "special_values",
            "object",
            "Values with a meaning of their own that get their own bin, per column "
            '(e.g. {"months_employed": [-1]}).',
            default={},
            values={"type": "array", "items": {"type": ["number", "string"]}},
            widget="json",
            title="Special values",
        ),
        Param(
            "bin_edits",
            "array",
            'Bins set by hand, one per column: {"column": "age", "splits": [25, 35, 50]} for '
            'a number, {"column": "purpose", "groups": [["car", "tv"], ["education"]]} for '
            "categories. They replace the optimal bins of that column.",
            default=[],
            items=EDIT_ITEMS,
            widget="json",
            title="Manual bin edits",
        ),
        Param(
            "keep",
            "array",
            "Other columns to pass through (e.g. an id).",
            default=[],
            items={"type": "string"},
            widget="columns",
            title="Keep",
        ),
        Param(
            "sample_rows",
            "integer",
            "Rows sampled (by a hash of their content) to fit the bins on.",
            default=1_000_000,
            minimum=1000,
            widget="number",
            title="Sample rows",
        ),
    )

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return feature_output_schemas(inputs, params)

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = f'{self.id} (node "{ctx.node_id}")'
        fitted, _ = fit_woe_transform(ctx, inputs["train"], params, where)
        out = emit_transformed(ctx, fitted, inputs["train"], inputs.get("test"), params["keep"])
        report = woe_report(fitted)
        out["report"] = report
        strengths = [c["strength"] for c in report["columns"]]
        ctx.set_metrics(
            {
                "columns": len(strengths),
                **{s: strengths.count(s) for s in ("strong", "medium", "weak", "useless")},
                "top_iv": report["columns"][0]["iv"] if report["columns"] else None,
            }
        )
        return out
