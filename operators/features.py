"""features.extract: fit a feature configuration on train, transform train and test alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.opapi import (
    INDEX_COL,
    VALUE_COL,
    FeatureConfigError,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    apply_transform,
    fit_features,
    to_text,
    validate_config,
)
from operators.modeling import ROW_KEY, with_row_key

FEATURE_ITEMS = {"type": "object", "required": ["kind"]}


def _config_problems(
    params: Mapping[str, Any], schema: TableSchema | None, op_id: str
) -> list[tuple[str, str]]:
    types = {c.name: c.type for c in schema.columns} if schema is not None else None
    return [
        (
            "features" if e.feature != "space" else "hash_bits",
            f"The 'features' parameter of {op_id} is invalid: {e}",
        )
        for e in validate_config(params.get("features"), params.get("hash_bits", 20), types)
    ]


def feature_output_schemas(
    inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, TableSchema | None]:
    """The train and test outputs of a feature operator: the label and kept columns, the row
    identity (``row_key``, which hold-outs downstream are drawn from), then the feature vector
    (indices and values)."""
    out: dict[str, TableSchema | None] = {}
    for port in ("train", "test"):
        src = inputs.get(port)
        if not isinstance(src, TableSchema):
            out[port] = None
            continue
        kept = [
            c
            for c in dict.fromkeys([params.get("label"), *(params.get("keep") or [])])
            if c in src.names and c != ROW_KEY
        ]
        out[port] = TableSchema.of(
            *[(c, src.type_of(c) or "string") for c in kept],
            (ROW_KEY, "bigint"),
            (INDEX_COL, "array<int>"),
            (VALUE_COL, "array<double>"),
        )
    return out


class FeaturesExtract(Operator):
    id = "features.extract"
    version = 1
    category = "Features"
    title = "Feature extraction"
    description = (
        "Turns columns into a hashed sparse feature vector from a feature configuration: "
        "continuous values (optionally clipped, log1p-scaled or standardized), discrete values, "
        "quantile buckets, crosses of discrete and bucketed features, and date parts. Fits the "
        "configuration on `train` (bucket boundaries, vocabularies, statistics), transforms "
        "`train` and `test` identically, and outputs the fitted transform, which models carry "
        "into their bundles so online scoring applies exactly the same logic."
    )
    inputs = (
        Port("train", "table", "The rows the configuration is fitted on."),
        Port("test", "table", "Rows transformed with the same fitted state.", optional=True),
    )
    outputs = (
        Port(
            "train",
            "table",
            "Label, kept columns and the feature vector (features_idx, features_val).",
        ),
        Port(
            "test",
            "table",
            "The test rows, transformed alike (when `test` is linked).",
            optional=True,
        ),
        Port("transform", "transform", "The fitted transform (JSON)."),
    )
    params = (
        Param(
            "label",
            "string",
            "The label column, passed through unchanged.",
            required=True,
            min_length=1,
            widget="column",
        ),
        Param(
            "features",
            "array",
            "The feature definitions (see the feature configuration reference).",
            required=True,
            min_length=1,
            items=FEATURE_ITEMS,
            widget="features",
        ),
        Param(
            "hash_bits",
            "integer",
            "Size of the hashed feature space: 2^hash_bits dimensions.",
            default=20,
            minimum=10,
            maximum=30,
            widget="number",
        ),
        Param(
            "keep",
            "array",
            "Other columns to pass through (e.g. an id).",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "sample_rows",
            "integer",
            "Rows sampled to fit boundaries and statistics.",
            default=1_000_000,
            minimum=1000,
            widget="number",
        ),
    )
    example_params = {
        "label": "default",
        "features": [{"kind": "bucket", "column": "age", "buckets": 10}],
    }

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _config_problems(params, None, self.id)

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        train = inputs.get("train")
        if not isinstance(train, TableSchema):
            return []
        # the column problems: those that appear only once the input's columns are known
        without = {m for _, m in _config_problems(params, None, self.id)}
        found = [p for p in _config_problems(params, train, self.id) if p[1] not in without]
        return super().check_columns(inputs, params) + found

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return feature_output_schemas(inputs, params)

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        train = inputs["train"]
        try:
            fitted = fit_features(
                train,
                list(params["features"]),
                params["hash_bits"],
                params["label"],
                params["sample_rows"],
                log=ctx.log,
            )
        except FeatureConfigError as exc:
            raise OperatorError(f"The 'features' parameter of {ctx.where}: {exc}") from exc
        ctx.log("features:\n" + to_text(params["features"]))
        return emit_transformed(ctx, fitted, train, inputs.get("test"), params["keep"])


def emit_transformed(
    ctx: RunContext, fitted: dict[str, Any], train: Any, test: Any, keep: list[str]
) -> dict[str, Any]:
    """The outputs of a feature node: the fitted transform (JSON) and both tables transformed
    with it, their lineage pointing at the transform. Each row carries its identity
    (``row_key``: the input's, else a hash of its source columns) so that models downstream hold
    out the same rows whatever features were computed."""
    folder = ctx.artifact_dir("transform")
    (folder / "transform.json").write_text(json.dumps(fitted, indent=1), encoding="utf-8")
    ref = {"run_id": ctx.run_id, "node_id": ctx.node_id, "port": "transform"}
    keep = [c for c in keep if c != ROW_KEY] + [ROW_KEY]
    outputs: dict[str, Any] = {
        "transform": folder,
        "train": apply_transform(with_row_key(train), fitted, keep),
    }
    ctx.set_lineage("train", transform=ref)
    if test is not None:
        outputs["test"] = apply_transform(with_row_key(test), fitted, keep)
        ctx.set_lineage("test", transform=ref)
    return outputs
