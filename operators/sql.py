"""transform.sql: a Spark SQL query over the node's inputs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from engine.opapi import (
    LinkedSchemas,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    check_plan,
    query_column_problems,
    query_problem,
    spark_error_message,
)

# Temporary views live in the session; registering, analysing and dropping them under one
# lock keeps concurrently running nodes from seeing each other's inputs. Once analysed, the
# query's plan no longer depends on the view names.
_views_lock = threading.Lock()


class TransformSql(Operator):
    id = "transform.sql"
    version = 1
    category = "Transform"
    title = "SQL"
    description = (
        "Runs a Spark SQL query. Each linked input is a view named by its upstream node id "
        "(`<node>_<port>` when two links come from the same node, e.g. split_train and "
        "split_test); quote ids that contain '-' with backticks."
    )
    inputs = (Port("in", "table", "One or more tables, each a view in the query.", multiple=True),)
    outputs = (Port("out", "table", "The query's result."),)
    example_params = {"query": "SELECT * FROM loans WHERE amount > 0"}
    params = (
        Param(
            "query",
            "string",
            "A Spark SQL SELECT query.",
            required=True,
            min_length=1,
            widget="code",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = query_problem(params.get("query"), "The 'query' parameter of transform.sql")
        return [("query", problem)] if problem else []

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        tables = inputs.get("in")
        what = "The 'query' parameter of transform.sql"
        if not isinstance(tables, LinkedSchemas) or not tables:
            return []
        # the views are known from the links: a query reading another name fails, say it now
        wrong_view = query_problem(params.get("query"), what, views=tables.link_names)
        if wrong_view:
            return [("query", wrong_view)]
        if not all(isinstance(t, TableSchema) for t in tables):
            return []  # a view whose columns are not known before a run: nothing is guessed
        views = {name: t.names for name, t in zip(tables.link_names, tables, strict=True)}
        return [("query", s) for s in query_column_problems(params.get("query"), views, what)]

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return {"out": None}  # known once the query is analysed by Spark

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        spark = ctx.spark
        tables: Mapping[str, Any] = inputs["in"]
        where = ctx.where
        # checked again here, against the actual inputs, right before Spark sees the text
        problem = query_problem(
            params["query"], f"The 'query' parameter of {where}", views=list(tables)
        )
        if problem:
            raise OperatorError(problem)
        with _views_lock:
            try:
                for name, df in tables.items():
                    df.createOrReplaceTempView(f"`{name}`")
                try:
                    out = spark.sql(params["query"])
                except Exception as exc:
                    raise OperatorError(
                        f"The query of {where} cannot run: {spark_error_message(exc).rstrip('.')}. "
                        f"Its inputs are the views: {', '.join(tables)}."
                    ) from exc
                refused = check_plan(out)
                if refused:
                    raise OperatorError(f"The query of {where} cannot be used: {refused}.")
            finally:
                for name in tables:
                    spark.catalog.dropTempView(f"`{name}`")
        return {"out": out}
