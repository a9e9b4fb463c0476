"""features.auto: automatic feature engineering after AutoCross (4Paradigm, KDD 2019).

On a deterministic sample of `train`, on the driver, operators.autocross searches crosses of
multi-granularity base features, each scored by the held-out AUC a field-wise logistic
regression gains with it, accepted only when the gain holds on two held-out halves and in the
refitted model, with a final check against the model without crosses. The result is an ordinary
feature configuration (readable, editable), fitted on all of `train` with Spark and applied to
`train` and `test` like features.extract does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    Param,
    Port,
    RunContext,
    TableSchema,
    fit_features,
    seed_param,
    to_text,
)
from operators.autocross import VALID_SHARE, Search, base_features
from operators.features import FeaturesExtract, emit_transformed
from operators.modeling import (
    LABEL,
    POSITIVE,
    ROW_KEY,
    col,
    holdout,
    holdout_draw,
    resolve_label,
    single_blas_thread,
    stable_order,
)


class FeaturesAuto(Operator):
    id = "features.auto"
    version = 1
    category = "Features"
    title = "Automatic features"
    description = (
        "Finds features on its own, after AutoCross: buckets every number at several "
        "granularities, keeps text and small integers as discrete values, and searches crosses "
        "of two or three features (all granularities, categories with numbers), each scored by "
        "the held-out AUC a fast field-wise logistic regression gains with it on a sample of "
        "`train` (`test` is only transformed, never used to choose). A cross is accepted only "
        "when its gain holds on two held-out halves and beats shuffled copies of itself; a final "
        "check keeps the crosses only if the crossed model beats the model without them. The "
        "budget is a number of evaluations, so the same rows always give the same features. "
        "Outputs the transformed tables, the fitted transform and a report of every accepted "
        "cross with its gain and bucket boundaries; the chosen configuration can be copied into "
        "features.extract."
    )
    inputs = FeaturesExtract.inputs
    outputs = (
        *FeaturesExtract.outputs,
        Port("report", "report", "The search: base AUC, accepted crosses, gains."),
    )
    params = (
        LABEL,
        POSITIVE,
        Param(
            "max_candidates",
            "integer",
            "Budget: candidate crosses evaluated in all (noise controls included).",
            default=200,
            minimum=1,
            maximum=10_000,
            widget="number",
        ),
        Param(
            "max_crosses",
            "integer",
            "At most this many crosses are accepted.",
            default=12,
            minimum=0,
            maximum=200,
            widget="number",
        ),
        Param(
            "max_order",
            "integer",
            "Largest number of features in one cross.",
            default=3,
            minimum=2,
            maximum=4,
            widget="number",
        ),
        Param(
            "min_gain",
            "number",
            "Smallest held-out AUC gain (mean of the two held-out halves) that accepts a cross.",
            default=0.0003,
            minimum=0,
            maximum=0.1,
            widget="number",
        ),
        Param(
            "sample_rows",
            "integer",
            "Rows of `train` the search uses.",
            default=100_000,
            minimum=1000,
            widget="number",
        ),
        Param(
            "time_limit",
            "integer",
            "Wall-clock cap on the search, in seconds.",
            default=300,
            minimum=10,
            widget="number",
        ),
        Param(
            "hash_bits",
            "integer",
            "Size of the hashed feature space: 2^hash_bits dimensions.",
            default=22,
            minimum=10,
            maximum=30,
            widget="number",
        ),
        Param(
            "exclude",
            "array",
            "Columns to leave out (e.g. ids).",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "keep",
            "array",
            "Other columns to pass through.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        seed_param("Seed of the sample and the internal validation split."),
    )

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return FeaturesExtract().infer_schema(inputs, params)

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        train = inputs["train"]
        label = params["label"]
        y_col, positive, _ = resolve_label(train, label, params.get("positive"), ctx.where)
        started = time.time()
        rows = train.count()
        sample = train
        if rows > params["sample_rows"]:
            sample, _ = holdout(train, 1 - params["sample_rows"] / rows, params["seed"] + 7)
        skip = {label, ROW_KEY, *params["exclude"]}
        columns = [f for f in train.schema.fields if f.name not in skip]
        table = stable_order(
            sample.select(
                y_col.alias("__y"),
                holdout_draw(sample, params["seed"]).alias("__draw"),
                *[col(f.name) for f in columns],
            )
        ).toArrow()
        y = table.column("__y").to_numpy().astype(np.int8)
        draw = table.column("__draw").to_numpy()
        ctx.log(f"searching on {len(y):,} sampled rows of {rows:,}")
        fit_rows = draw >= VALID_SHARE
        search = Search(base_features(table, columns, fit_rows), y, draw, params, ctx.log)
        with single_blas_thread():
            result = search.run(started)
        config = result.pop("config")
        ctx.log(f"chosen features:\n{to_text(config)}")
        fitted = fit_features(train, config, params["hash_bits"], label, log=ctx.log)
        out = emit_transformed(ctx, fitted, train, inputs.get("test"), params["keep"])
        crosses = fitted["features"][len(config) - len(result["accepted"]) :]
        for a, cross in zip(result["accepted"], crosses, strict=True):
            a["members"] = [_member_report(m) for m in cross["of"]]
        out["report"] = {
            **result,
            "features": config,
            "features_text": to_text(config),
            "positive": positive,
            "seconds": round(time.time() - started, 2),
        }
        ctx.set_metrics(
            {
                "base_auc": result["base_auc"],
                "final_auc": result["final_auc"],
                "crosses": len(result["accepted"]),
                "evaluations": result["evaluations"],
                "search_cost_in_lr_fits": result["search_cost_in_lr_fits"],
                "fell_back": result["fallback"] is not None,
            }
        )
        return out


def _member_report(member: Mapping[str, Any]) -> dict[str, Any]:
    """A cross member as the report shows it: its column and the bucket boundaries it used."""
    out: dict[str, Any] = {"column": member["column"], "kind": member["kind"]}
    fitted = member.get("fitted") or {}
    if "boundaries" in fitted:
        out["boundaries"] = fitted["boundaries"]
    if "vocabulary" in fitted:
        out["values"] = len(fitted["vocabulary"])
    return out
