"""Cleaning operators: fill_missing, filter, select, cast, dedupe, sample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.opapi import (
    SIMPLE_TYPES,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    expression_column_problems,
    expression_problem,
    is_simple_type,
    missing_column,
    seed_param,
    spark_error_message,
)

_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double")
_HASH_BITS = 53


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def _is_numeric(spark_type: str) -> bool:
    return spark_type in _NUMERIC or spark_type.startswith("decimal")


def _row_hash_unit(df: Any, seed: int) -> Any:
    """A number in [0, 1) from a hash of the row's content and the seed (not its position)."""
    from pyspark.sql import functions as F

    cols = [
        _col(f.name) for f in df.schema.fields if not f.dataType.simpleString().startswith("map<")
    ]
    return F.pmod(F.xxhash64(F.lit(seed), *cols), F.lit(2**_HASH_BITS)) / float(2**_HASH_BITS)


class _TableOp(Operator):
    category = "Clean"
    inputs = (Port("in", "table", "The table to clean."),)
    outputs = (Port("out", "table", "The cleaned table."),)


# -- clean.fill_missing ----------------------------------------------------------------------
_STRATEGIES = ("mean", "median", "mode", "constant")


class FillMissing(_TableOp):
    id = "clean.fill_missing"
    version = 1
    title = "Fill missing values"
    description = (
        "Replaces missing values column by column: with the column's mean or median (numeric "
        "columns), its most frequent value (any column), or a constant. Statistics are computed "
        "on this input in one pass. Non-numeric columns given the mean or median strategy use "
        "the most frequent value."
    )
    params = (
        Param(
            "columns",
            "array",
            "Columns to fill; empty means every column.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "strategy",
            "string",
            "How to fill the columns above.",
            default="median",
            enum=_STRATEGIES,
            widget="select",
        ),
        Param(
            "value",
            "string",
            "The constant for the constant strategy, read as the column's type (e.g. 0, unknown, 2024-01-01).",
            nullable=True,
            widget="text",
        ),
        Param(
            "per_column",
            "object",
            'Strategies for single columns, overriding the above: {"income": "mean", '
            '"region": "constant:unknown"}.',
            default={},
            values={"type": "string"},
            widget="mapping",
        ),
    )

    def _plan(
        self, params: Mapping[str, Any], names: list[str]
    ) -> dict[str, tuple[str, str | None]]:
        plan: dict[str, tuple[str, str | None]] = {}
        for c in params["columns"] or names:
            plan[c] = (params["strategy"], params.get("value"))
        for c, spec in params["per_column"].items():
            strategy, _, value = spec.partition(":")
            plan[c] = (strategy, value if strategy == "constant" else None)
        return plan

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        if params.get("strategy") == "constant" and params.get("value") is None:
            out.append(
                (
                    "value",
                    "The 'value' parameter of clean.fill_missing is required with the constant strategy.",
                )
            )
        for col, spec in (params.get("per_column") or {}).items():
            if spec.partition(":")[0] not in _STRATEGIES:
                out.append(
                    (
                        "per_column",
                        f"The 'per_column' parameter of clean.fill_missing gives column \"{col}\" the "
                        f'strategy "{spec}"; use mean, median, mode or constant:<value>.',
                    )
                )
        return out

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        out = super().check_columns(inputs, params)
        source = inputs.get("in")
        if isinstance(source, TableSchema):
            for col in params.get("per_column") or {}:
                sentence = missing_column(self.id, "per_column", col, source)
                if sentence:
                    out.append(("per_column", sentence))
        return out

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        df = inputs["in"]
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        plan = self._plan(params, list(types))
        aggs = []
        for c, (strategy, _) in plan.items():
            if strategy in ("mean", "median") and _is_numeric(types[c]):
                fn = (
                    F.avg(_col(c))
                    if strategy == "mean"
                    else F.percentile_approx(_col(c), 0.5, 10_000)
                )
                aggs.append(fn.alias(c))
            elif strategy != "constant":
                aggs.append(F.mode(_col(c)).alias(c))
        fitted = df.agg(*aggs).first().asDict() if aggs else {}
        fills = {}
        for c, (strategy, value) in plan.items():
            if strategy == "constant":
                lit = F.lit(value).try_cast(types[c])
                fills[c] = lit
            elif fitted.get(c) is not None:
                fills[c] = F.lit(fitted[c]).cast(types[c])
        for c in fills:
            if plan[c][0] == "constant":
                check = df.sparkSession.range(1).select(fills[c].alias("v")).first()["v"]
                if check is None:
                    raise OperatorError(
                        f'The constant "{plan[c][1]}" of {ctx.where} cannot be read as '
                        f'{types[c]} for column "{c}". Give a value of that type.'
                    )
        shown = {c: (plan[c][1] if plan[c][0] == "constant" else fitted.get(c)) for c in fills}
        ctx.log("fill values: " + ", ".join(f"{c}={v!r}" for c, v in shown.items()))
        out = df.select(
            *[
                F.coalesce(_col(f.name), fills[f.name]).alias(f.name)
                if f.name in fills
                else _col(f.name)
                for f in df.schema.fields
            ]
        )
        return {"out": out}


# -- clean.filter --------------------------------------------------------------------------------
class Filter(_TableOp):
    id = "clean.filter"
    version = 1
    title = "Filter rows"
    description = (
        "Keeps the rows for which a Spark SQL condition is true (rows where it is false or "
        "null are dropped), e.g. age >= 18 AND income IS NOT NULL."
    )
    params = (
        Param(
            "condition",
            "string",
            "A Spark SQL boolean expression.",
            required=True,
            min_length=1,
            widget="code",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        what = f"The 'condition' parameter of {self.id}"
        problem = expression_problem(params.get("condition"), what)
        return [("condition", problem)] if problem else []

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        source = inputs.get("in")
        if not isinstance(source, TableSchema):
            return []  # not known before a run: nothing is guessed
        what = f"The 'condition' parameter of {self.id}"
        found = expression_column_problems(params.get("condition"), source.names, what)
        return [("condition", s) for s in found]

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        df = inputs["in"]
        what = f"The 'condition' parameter of {ctx.where}"
        problem = expression_problem(params["condition"], what)
        if problem:  # checked again right before Spark sees the text
            raise OperatorError(problem)
        try:
            out = df.where(F.expr(params["condition"]))
        except Exception as exc:
            raise OperatorError(
                f"The condition of {ctx.where} cannot be used: {spark_error_message(exc)}. "
                f"Columns: {', '.join(df.columns)}."
            ) from exc
        return {"out": out}


# -- clean.select --------------------------------------------------------------------------------
class Select(_TableOp):
    id = "clean.select"
    version = 1
    title = "Select and rename columns"
    description = (
        "Keeps the listed columns (in that order) or drops the listed ones, then renames "
        "columns. Give either keep or drop, not both."
    )
    params = (
        Param(
            "keep",
            "array",
            "Columns to keep, in order; empty keeps all.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "drop",
            "array",
            "Columns to drop.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "rename",
            "object",
            'New names: {"old name": "new name"}.',
            default={},
            values={"type": "string", "minLength": 1},
            widget="mapping",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        if params.get("keep") and params.get("drop"):
            out.append(
                (
                    "drop",
                    "The 'keep' and 'drop' parameters of clean.select cannot both be set; use one.",
                )
            )
        targets = list((params.get("rename") or {}).values())
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        if dupes:
            out.append(
                (
                    "rename",
                    f"The 'rename' parameter of clean.select gives two columns the name \"{dupes[0]}\".",
                )
            )
        return out

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        out = super().check_columns(inputs, params)
        schema = self.infer_schema(inputs, {**params, "rename": {}}).get("out")
        if isinstance(schema, TableSchema):
            for col in params.get("rename") or {}:
                sentence = missing_column(self.id, "rename", col, schema)
                if sentence:
                    out.append(("rename", sentence))
        final = self.infer_schema(inputs, params).get("out")
        if isinstance(final, TableSchema) and len(set(final.names)) < len(final.names):
            dup = next(n for n in final.names if final.names.count(n) > 1)
            out.append(
                (
                    "rename",
                    f"The 'rename' parameter of clean.select makes two columns named \"{dup}\".",
                )
            )
        return out

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        source = inputs.get("in")
        if not isinstance(source, TableSchema):
            return {"out": None}
        cols = list(source.columns)
        if params.get("keep"):
            by_name = {c.name: c for c in cols}
            cols = [by_name[k] for k in params["keep"] if k in by_name]
        elif params.get("drop"):
            cols = [c for c in cols if c.name not in set(params["drop"])]
        rename = params.get("rename") or {}
        return {"out": TableSchema.of(*[(rename.get(c.name, c.name), c.type) for c in cols])}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        df = inputs["in"]
        names = (
            list(params["keep"])
            if params["keep"]
            else [c for c in df.columns if c not in set(params["drop"])]
        )
        rename = params["rename"]
        return {"out": df.select(*[_col(c).alias(rename.get(c, c)) for c in names])}


# -- clean.cast ----------------------------------------------------------------------------------
class Cast(_TableOp):
    id = "clean.cast"
    version = 1
    title = "Change column types"
    description = (
        "Converts columns to other types, e.g. a text column of numbers to double or a text "
        "date to date. Values that cannot be converted become missing, or fail the node."
    )
    params = (
        Param(
            "columns",
            "object",
            'Target types: {"age": "int", "signup": "date"}. Types: '
            + ", ".join(SIMPLE_TYPES)
            + ", decimal(p,s).",
            required=True,
            values={"type": "string"},
            widget="mapping",
        ),
        Param(
            "on_error",
            "string",
            "What to do with a value that cannot be converted.",
            default="null",
            enum=("null", "fail"),
            widget="select",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        for col, typ in (params.get("columns") or {}).items():
            if not is_simple_type(typ):
                out.append(
                    (
                        "columns",
                        f"The 'columns' parameter of clean.cast gives column \"{col}\" the unknown type "
                        f'"{typ}"; use one of {", ".join(SIMPLE_TYPES)} or decimal(p,s).',
                    )
                )
        return out

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        source = inputs.get("in")
        if not isinstance(source, TableSchema):
            return []
        return [
            ("columns", s)
            for c in params.get("columns") or {}
            if (s := missing_column(self.id, "columns", c, source))
        ]

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        source = inputs.get("in")
        if not isinstance(source, TableSchema):
            return {"out": None}
        types = params.get("columns") or {}
        return {
            "out": TableSchema.of(*[(c.name, types.get(c.name, c.type)) for c in source.columns])
        }

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        df = inputs["in"]
        types = params["columns"]
        strict = params["on_error"] == "fail"
        cols = []
        for f in df.schema.fields:
            if f.name in types:
                c = _col(f.name)
                cast = c.cast(types[f.name]) if strict else c.try_cast(types[f.name])
                if strict:
                    cast = F.when(
                        c.isNotNull() & c.try_cast(types[f.name]).isNull(),
                        F.raise_error(
                            F.concat(
                                F.lit(f'{ctx.where} cannot convert "'),
                                c.cast("string"),
                                F.lit(
                                    f'" in column "{f.name}" to {types[f.name]}. Set on_error to null to keep going.'
                                ),
                            )
                        ),
                    ).otherwise(cast)
                cols.append(cast.alias(f.name))
            else:
                cols.append(_col(f.name))
        return {"out": df.select(*cols)}


# -- clean.dedupe --------------------------------------------------------------------------------
class Dedupe(_TableOp):
    id = "clean.dedupe"
    version = 1
    title = "Remove duplicates"
    description = (
        "Keeps one row per distinct value of the key columns (or per distinct row when no "
        "key is given). Which row is kept is decided by 'order_by' and 'keep', ties by a hash "
        "of the row, so the result never depends on partitioning."
    )
    params = (
        Param(
            "columns",
            "array",
            "Key columns; empty means the whole row.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "order_by",
            "string",
            "Column that decides which row of a key to keep.",
            nullable=True,
            widget="column",
        ),
        Param(
            "keep",
            "string",
            "Keep the row with the smallest (first) or largest (last) order_by value.",
            default="last",
            enum=("first", "last"),
            widget="select",
        ),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        df = inputs["in"]
        keys = params["columns"]
        if not keys:
            return {"out": df.dropDuplicates()}
        order = []
        if params.get("order_by"):
            c = _col(params["order_by"])
            order.append(c.asc_nulls_last() if params["keep"] == "first" else c.desc_nulls_last())
        order.append(_row_hash_unit(df, 0))
        w = Window.partitionBy(*[_col(k) for k in keys]).orderBy(*order)
        out = (
            df.withColumn("__seer_rank", F.row_number().over(w))
            .where("__seer_rank = 1")
            .drop("__seer_rank")
        )
        return {"out": out}


# -- clean.sample --------------------------------------------------------------------------------
class Sample(_TableOp):
    id = "clean.sample"
    version = 1
    title = "Sample rows"
    description = (
        "Keeps a seeded random share of the rows (fraction) or a fixed number of them (rows). "
        "Rows are picked by a hash of their content and the seed, so the same input gives the "
        "same sample on any master and any partitioning."
    )
    params = (
        Param(
            "by",
            "string",
            "Keep a share of the rows (fraction) or a number of rows (rows).",
            default="fraction",
            enum=("fraction", "rows"),
            widget="select",
        ),
        Param(
            "fraction",
            "number",
            "Share of rows to keep (by fraction).",
            default=0.1,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            widget="number",
        ),
        Param(
            "rows",
            "integer",
            "Number of rows to keep (by rows).",
            default=1000,
            minimum=1,
            widget="number",
        ),
        seed_param("Seed of the row sample (the same seed keeps the same rows)."),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        df = inputs["in"]
        u = _row_hash_unit(df, params["seed"])
        if params["by"] == "fraction":
            return {"out": df.where(u < params["fraction"])}
        tie = F.xxhash64(F.lit(params["seed"] + 1), *[_col(c) for c in df.columns])
        out = (
            df.withColumn("__seer_u", u)
            .orderBy("__seer_u", tie)
            .limit(params["rows"])
            .drop("__seer_u")
        )
        return {"out": out}
