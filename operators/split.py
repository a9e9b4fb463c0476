"""split: cut a table in two, by a seeded ratio or by a rule."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    expression_column_problems,
    expression_problem,
    seed_param,
    spark_error_message,
)

#: Rows are placed by a hash of their content mapped to [0, 1) with this many bits.
_HASH_BITS = 53


class Split(Operator):
    id = "split"
    version = 1
    category = "Data"
    title = "Split"
    description = (
        "Cuts a table into `train` and `test`. By ratio: each row goes to `train` when a hash "
        "of its content and the seed falls below the ratio, so the result is the same on any "
        "master and any partitioning, and every row lands in exactly one output (identical "
        "rows land together). With a stratify column the ratio holds within each of its "
        "values. By rule: rows where a Spark SQL condition is true go to `train`, all others "
        "(false or null) to `test` — e.g. application_date < '2024-01-01' for out-of-time "
        "validation (or set 'rule_column' and 'threshold')."
    )
    inputs = (Port("in", "table", "The table to split."),)
    outputs = (
        Port("train", "table", "Rows selected by the ratio or the rule."),
        Port("test", "table", "All other rows."),
    )
    params = (
        Param(
            "mode",
            "string",
            "Split by a seeded ratio or by a rule.",
            default="ratio",
            enum=("ratio", "rule"),
            widget="select",
        ),
        Param(
            "ratio",
            "number",
            "Share of rows sent to `train` (ratio mode).",
            default=0.8,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            exclusive_maximum=True,
            widget="number",
        ),
        seed_param("Seed of the row hash (ratio mode)."),
        Param(
            "stratify",
            "string",
            "Keep the ratio within each value of this column (ratio mode).",
            nullable=True,
            widget="column",
        ),
        Param(
            "rule",
            "string",
            "Spark SQL condition; matching rows go to `train` (rule mode).",
            nullable=True,
            widget="code",
        ),
        Param(
            "rule_column",
            "string",
            "Instead of a rule: rows whose value in this column is below 'threshold' go to "
            "`train`, the rest to `test` (rule mode; e.g. a date for out-of-time validation).",
            nullable=True,
            widget="column",
        ),
        Param(
            "threshold",
            "string",
            "The cut-off for 'rule_column', read as the column's type (e.g. 2024-01-01 or 650).",
            nullable=True,
            widget="text",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if params.get("mode") != "rule":
            return []
        rule = (params.get("rule") or "").strip()
        column = params.get("rule_column")
        if rule and column:
            return [
                (
                    "rule",
                    "Give split either a 'rule' or a 'rule_column' with a 'threshold', not both.",
                )
            ]
        if column and params.get("threshold") in (None, ""):
            return [
                (
                    "threshold",
                    "The 'threshold' parameter of split is required with 'rule_column': the "
                    "cut-off value, e.g. 2024-01-01.",
                )
            ]
        if rule and not column:
            problem = expression_problem(rule, "The 'rule' parameter of split")
            if problem:
                return [("rule", problem)]
        if not rule and not column:
            return [
                (
                    "rule",
                    "The 'rule' parameter of split is required in rule mode: a Spark SQL "
                    "condition such as application_date < '2024-01-01' (or set 'rule_column' "
                    "and 'threshold').",
                )
            ]
        return []

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        out = super().check_columns(inputs, params)
        source = inputs.get("in")
        by_rule = params.get("mode") == "rule" and not params.get("rule_column")
        if by_rule and isinstance(source, TableSchema):
            what = "The 'rule' parameter of split"
            found = expression_column_problems(params.get("rule"), source.names, what)
            out += [("rule", s) for s in found]
        return out

    def passes_through(self, params: Mapping[str, Any]) -> bool:
        # a filter per side (no shuffle): cheaper to recompute than to save; not so the
        # stratified split, which ranks rows within each stratum
        return params["mode"] == "rule" or not params.get("stratify")

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        df = inputs["in"]
        where = ctx.where
        if params["mode"] == "rule":
            if params.get("rule_column"):
                col = params["rule_column"]
                typ = df.schema[col].dataType.simpleString()
                cut = F.lit(params["threshold"]).try_cast(typ)
                if df.sparkSession.range(1).select(cut.alias("v")).first()["v"] is None:
                    raise OperatorError(
                        f'The threshold "{params["threshold"]}" of {where} cannot be read as {typ}, '
                        f'the type of column "{col}". Give a value of that type.'
                    )
                cond = F.col(f"`{col}`") < cut
            else:
                problem = expression_problem(params["rule"], f"The 'rule' parameter of {where}")
                if problem:  # checked again right before Spark sees the text
                    raise OperatorError(problem)
                try:
                    cond = F.expr(params["rule"])
                    df.where(cond)  # analysed now, so a bad rule fails here with the columns listed
                except Exception as exc:
                    raise OperatorError(
                        f"The rule of {where} cannot be used: {spark_error_message(exc)}. "
                        f"Columns: {', '.join(df.columns)}."
                    ) from exc
            # false and null both go to test, so the two outputs partition the input
            return _write_sides(ctx, df, F.when(cond, "train").otherwise("test"))

        hashable = [
            F.col(f"`{f.name}`")
            for f in df.schema.fields
            if not f.dataType.simpleString().startswith("map<")
        ]
        u = F.pmod(F.xxhash64(F.lit(params["seed"]), *hashable), F.lit(2**_HASH_BITS)) / float(
            2**_HASH_BITS
        )
        strat = params.get("stratify")
        if not strat:
            return _write_sides(ctx, df, F.when(u < params["ratio"], "train").otherwise("test"))
        # Exact stratification: within each stratum, the rows with the smallest hashes go to
        # train, as many as round(ratio * stratum size).
        w = Window.partitionBy(F.col(f"`{strat}`"))
        ranked = (
            df.withColumn(_U, u)
            .withColumn(_N, F.count(F.lit(1)).over(w))
            .withColumn(_R, F.row_number().over(w.orderBy(_U)))
        )
        in_train = F.col(_R) <= F.round(F.col(_N) * params["ratio"])
        side = F.when(in_train, "train").otherwise("test")
        return _write_sides(ctx, ranked.withColumn(_SIDE, side).drop(_U, _N, _R), None)


_U, _N, _R, _SIDE = "__seer_u", "__seer_n", "__seer_r", "__seer_side"


def _write_sides(ctx: RunContext, df: Any, side: Any) -> dict[str, Any]:
    """Write both outputs in one Spark job (one pass over the input), partitioned by side; or,
    when the runner hands them on unsaved, one filter per side."""
    if ctx.pass_through and side is not None:
        from pyspark.sql import functions as F

        is_train = F.coalesce(side == F.lit("train"), F.lit(False))
        return {"train": df.where(is_train), "test": df.where(~is_train)}
    staged = ctx.scratch_dir() / "sides"
    marked = df if side is None else df.withColumn(_SIDE, side)
    ctx.check_cancelled()
    marked.write.partitionBy(_SIDE).parquet(str(staged))
    out: dict[str, Path] = {}
    for name in ("train", "test"):
        folder = ctx.table_dir(name)
        part = staged / f"{_SIDE}={name}"
        if part.is_dir():
            for f in part.iterdir():
                if not f.name.startswith((".", "_")):
                    f.replace(folder / f.name)
        else:  # no row on this side: an empty file that still carries the schema
            empty = staged / f"empty-{name}"
            marked.drop(_SIDE).limit(0).write.parquet(str(empty))
            for f in empty.glob("part-*"):
                f.replace(folder / f.name)
        out[name] = folder
    return out
