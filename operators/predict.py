"""predict: score any table with any model bundle; the model applies its own transform."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.opapi import (
    COEFFICIENTS,
    GBDT_MODEL,
    INDEX_COL,
    VALUE_COL,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    apply_transform,
    gbdt_columns,
    read_manifest,
)
from operators.modeling import col, transform_of_input

SCORE, PREDICTION, POINTS = "score", "prediction", "points"


class Predict(Operator):
    id = "predict"
    version = 1
    category = "Models"
    title = "Predict"
    description = (
        "Scores a table with a model bundle. The table keeps its columns and gains `score` (the "
        "probability of the positive class) and `prediction` (1 when the score reaches the "
        "threshold: the model's own unless 'threshold' is set); a scorecard adds `points`. The "
        "model applies its own feature transform to raw rows; a table already transformed by "
        "that same transform is used as it is."
    )
    inputs = (
        Port("model", "model", "A model bundle (train.hdlr, train.gbdt, train.scorecard)."),
        Port("data", "table", "Rows to score."),
    )
    outputs = (Port("out", "table", "The rows with score and prediction."),)
    params = (
        Param(
            "threshold",
            "number",
            "Score cut-off for prediction = 1 (not set: the model's).",
            nullable=True,
            minimum=0,
            maximum=1,
            widget="number",
        ),
    )

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        data = inputs.get("data")
        if not isinstance(data, TableSchema):
            return {"out": None}
        cols = [(c.name, c.type) for c in data.columns if c.name not in (SCORE, PREDICTION, POINTS)]
        return {"out": TableSchema.of(*cols, (SCORE, "double"), (PREDICTION, "int"))}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = ctx.where
        folder: Path = inputs["model"]
        manifest = read_manifest(folder)
        df = inputs["data"].drop(SCORE, PREDICTION, POINTS)
        threshold = (
            params["threshold"] if params.get("threshold") is not None else manifest["threshold"]
        )
        if manifest["model_type"] in ("hdlr", "scorecard"):
            scored = _score_linear(ctx, df, folder, manifest, where)
        elif manifest["model_type"] == "gbdt":
            scored = _score_gbdt(df, folder, manifest, where)
        else:
            raise OperatorError(f"{where} does not know the model type {manifest['model_type']!r}.")
        from pyspark.sql import functions as F

        out = scored.withColumn(PREDICTION, (F.col(SCORE) >= F.lit(float(threshold))).cast("int"))
        ctx.set_lineage(
            "out", model={**manifest.get("lineage", {}), "port": "model", "path": str(folder)}
        )
        return {"out": out}


def _require_columns(df: Any, needed: list[str], where: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise OperatorError(
            f"{where}: the model needs the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
            f"which the input does not have. Columns: {', '.join(df.columns)}."
        )


def _score_linear(
    ctx: RunContext, df: Any, folder: Path, manifest: Mapping[str, Any], where: str
) -> Any:
    fitted = manifest["transform"]
    same = INDEX_COL in df.columns and transform_of_input(ctx, "data") == fitted
    if same:
        ctx.log("the input was transformed by the model's own transform: reusing its features")
        with_features = df
    else:
        used = [c["name"] for c in fitted["input_schema"] if c["name"] != fitted.get("label")]
        _require_columns(df, used, where)
        with_features = _with_vector(df.drop(INDEX_COL, VALUE_COL), fitted)
    coef = json.loads((folder / COEFFICIENTS).read_text("utf-8"))
    order = np.argsort(coef["indices"])
    keys = np.asarray(coef["indices"], dtype=np.int64)[order]
    weights = np.asarray(coef["weights"], dtype=float)[order]
    intercept = float(coef["intercept"])
    card = manifest.get("scorecard")
    schema = _schema_plus_score(with_features, points=card is not None)
    factor, offset = (card["factor"], card["offset"]) if card else (0.0, 0.0)

    def score_batches(batches: Any) -> Any:
        import pyarrow as pa

        for batch in batches:
            idx = batch.column(INDEX_COL)
            val = batch.column(VALUE_COL)
            flat_i = idx.values.to_numpy(zero_copy_only=False).astype(np.int64)
            flat_v = val.values.to_numpy(zero_copy_only=False)
            offsets = idx.offsets.to_numpy()
            rows = np.repeat(np.arange(batch.num_rows), np.diff(offsets))
            pos = np.clip(np.searchsorted(keys, flat_i), 0, max(len(keys) - 1, 0))
            w = (
                np.where(keys[pos] == flat_i, weights[pos], 0.0)
                if len(keys)
                else np.zeros(len(flat_i))
            )
            margin = intercept + np.bincount(rows, weights=w * flat_v, minlength=batch.num_rows)
            score = 1.0 / (1.0 + np.exp(-margin))
            extra = [pa.array(offset - factor * margin)] if card else []
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(score), *extra], schema=schema
            )

    out = with_features.mapInArrow(score_batches, _spark_schema(with_features, card is not None))
    return out if same else out.drop(INDEX_COL, VALUE_COL)


def _with_vector(df: Any, fitted: Mapping[str, Any]) -> Any:
    """The table's own columns plus the model's feature vector."""
    return apply_transform(df, {**fitted, "label": None}, keep=list(df.columns))


def _score_gbdt(df: Any, folder: Path, manifest: Mapping[str, Any], where: str) -> Any:
    spec = manifest["gbdt"]["columns"]
    _require_columns(df, [c["name"] for c in spec], where)
    model_text = (folder / GBDT_MODEL).read_text("utf-8")
    from pyspark.sql import functions as F

    xcols = [f"__x{i}" for i in range(len(spec))]
    wide = df.select("*", *[e.alias(n) for e, n in zip(gbdt_columns(spec), xcols, strict=True)])
    schema = _schema_plus_score(wide)
    n_keep = len(df.columns)

    def score_batches(batches: Any) -> Any:
        import pyarrow as pa

        booster = _booster(model_text)
        for batch in batches:
            x = (
                np.column_stack(
                    [
                        batch.column(n_keep + i).to_numpy(zero_copy_only=False).astype(float)
                        for i in range(len(xcols))
                    ]
                )
                if xcols
                else np.empty((batch.num_rows, 0))
            )
            score = (
                booster.predict(x, num_threads=1) if batch.num_rows else np.array([], dtype=float)
            )
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(score, pa.float64())], schema=schema
            )

    scored = wide.mapInArrow(score_batches, _spark_schema(wide))
    return scored.select(*[col(c) for c in df.columns], F.col(SCORE))


_BOOSTERS: dict[int, Any] = {}


def _booster(text: str) -> Any:
    """One LightGBM booster per model text and Python worker."""
    import lightgbm as lgb

    key = hash(text)
    if key not in _BOOSTERS:
        _BOOSTERS[key] = lgb.Booster(model_str=text)
    return _BOOSTERS[key]


def _schema_plus_score(df: Any, points: bool = False) -> Any:
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    base = to_arrow_schema(df.schema)
    extra = [pa.field(POINTS, pa.float64())] if points else []
    return pa.schema([*base, pa.field(SCORE, pa.float64()), *extra])


def _spark_schema(df: Any, points: bool = False) -> Any:
    from pyspark.sql.types import DoubleType, StructField, StructType

    extra = [StructField(POINTS, DoubleType())] if points else []
    return StructType([*df.schema.fields, StructField(SCORE, DoubleType()), *extra])
