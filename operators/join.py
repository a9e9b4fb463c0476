"""transform.join: join two tables on key columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    missing_column,
)

_HOW = ("inner", "left", "right", "full", "semi", "anti")


class Join(Operator):
    id = "transform.join"
    version = 1
    category = "Transform"
    title = "Join"
    description = (
        "Joins `left` and `right` on key columns: the same names on both sides ('on') or pairs "
        "of names ('left_on' with 'right_on'). Keys given by 'on' appear once in the result; "
        "other columns that exist on both sides get the suffix on the right side's copy. "
        "semi keeps left rows that have a match, anti those that have none."
    )
    inputs = (Port("left", "table", "The left table."), Port("right", "table", "The right table."))
    outputs = (Port("out", "table", "The joined table."),)
    example_params = {"on": ["customer_id"]}
    params = (
        Param(
            "on",
            "array",
            "Key columns with the same name on both sides.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "left_on",
            "array",
            "Key columns of the left table.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "right_on",
            "array",
            "Matching key columns of the right table.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param("how", "string", "Join type.", default="inner", enum=_HOW, widget="select"),
        Param(
            "suffix",
            "string",
            "Added to right-side columns whose names clash.",
            default="_right",
            min_length=1,
            widget="text",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        on, lo, ro = (
            params.get("on") or [],
            params.get("left_on") or [],
            params.get("right_on") or [],
        )
        if on and (lo or ro):
            return [
                (
                    "on",
                    "Give the keys of transform.join either as 'on' or as 'left_on' with 'right_on', not both.",
                )
            ]
        if not on and not lo:
            return [
                (
                    "on",
                    "The 'on' parameter of transform.join is required: name the key columns to join on.",
                )
            ]
        if len(lo) != len(ro):
            return [
                (
                    "right_on",
                    f"The 'left_on' and 'right_on' parameters of transform.join must list as many "
                    f"columns each. Got {len(lo)} and {len(ro)}.",
                )
            ]
        return []

    def _keys(self, params: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        if params.get("on"):
            return list(params["on"]), list(params["on"])
        return list(params.get("left_on") or []), list(params.get("right_on") or [])

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        out = []
        lk, rk = self._keys(params)
        param_l = "on" if params.get("on") else "left_on"
        param_r = "on" if params.get("on") else "right_on"
        for side, keys, pname in (("left", lk, param_l), ("right", rk, param_r)):
            schema = inputs.get(side)
            if isinstance(schema, TableSchema):
                for k in keys:
                    sentence = missing_column(self.id, pname, k, schema, side=f"{side} input")
                    if sentence:
                        out.append((pname, sentence))
        return out

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        left, right = inputs.get("left"), inputs.get("right")
        if not isinstance(left, TableSchema) or not isinstance(right, TableSchema):
            return {"out": None}
        return {"out": TableSchema.of(*self._plan(left, right, params))}

    def _plan(
        self, left: TableSchema, right: TableSchema, params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Output (name, type) pairs, left columns first."""
        if params["how"] in ("semi", "anti"):
            return [(c.name, c.type) for c in left.columns]
        shared = set(params.get("on") or [])
        cols = [(c.name, c.type) for c in left.columns]
        taken = {n for n, _ in cols}
        for c in right.columns:
            if c.name in shared:
                continue
            name = c.name + params["suffix"] if c.name in taken else c.name
            cols.append((name, c.type))
        return cols

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        left, right = inputs["left"], inputs["right"]
        how = {"full": "full_outer", "semi": "left_semi", "anti": "left_anti"}.get(
            params["how"], params["how"]
        )
        lk, rk = self._keys(params)
        lt, rt = TableSchema.from_spark(left.schema), TableSchema.from_spark(right.schema)
        plan = self._plan(lt, rt, params)
        lname = [f"__l_{i}" for i in range(len(lt.columns))]
        rname = [f"__r_{i}" for i in range(len(rt.columns))]
        l2 = left.toDF(*lname)
        r2 = right.toDF(*rname)
        lpos = {c.name: i for i, c in enumerate(lt.columns)}
        rpos = {c.name: i for i, c in enumerate(rt.columns)}
        cond = None
        for a, b in zip(lk, rk, strict=True):
            ltype, rtype = lt.type_of(a), rt.type_of(b)
            if ltype != rtype and not (_numeric(ltype) and _numeric(rtype)):
                raise OperatorError(
                    f'{ctx.where} joins "{a}" ({ltype}) with "{b}" ({rtype}); '
                    "key columns must have the same type. Cast one of them with clean.cast first."
                )
            c = F.col(lname[lpos[a]]) == F.col(rname[rpos[b]])
            cond = c if cond is None else cond & c
        joined = l2.join(r2, cond, how)
        if how in ("left_semi", "left_anti"):
            return {"out": joined.toDF(*lt.names)}
        shared = set(params.get("on") or [])
        cols = [
            # a shared key takes the right side's value where the left has none (right/full joins)
            F.coalesce(F.col(lname[i]), F.col(rname[rpos[c.name]]))
            if c.name in shared
            else F.col(lname[i])
            for i, c in enumerate(lt.columns)
        ]
        cols += [F.col(rname[i]) for i, c in enumerate(rt.columns) if c.name not in shared]
        return {"out": joined.select(*[c.alias(n) for c, (n, _) in zip(cols, plan, strict=True)])}


def _numeric(t: str | None) -> bool:
    return bool(t) and (
        t in ("tinyint", "smallint", "int", "bigint", "float", "double") or t.startswith("decimal")
    )
