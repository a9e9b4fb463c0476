"""evaluate.binary: the evaluation report of one or several scored tables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    binary_report,
    read_manifest,
)
from operators.modeling import check_collect, col

SCALARS = ("auc", "logloss", "ks", "precision", "recall", "f1", "accuracy", "average_precision")


class EvaluateBinary(Operator):
    id = "evaluate.binary"
    version = 1
    category = "Evaluation"
    title = "Evaluate (binary)"
    description = (
        "Scores against truth for one or several scored tables (link several predict outputs to "
        "compare models side by side): AUC, ROC and PR curves, average precision, log-loss, KS "
        "statistic and curve, lift and cumulative gain by decile, calibration, the confusion "
        "matrix with precision, recall and F1 at the threshold and at the KS-optimal cut-off, and "
        "the model's feature importance. Label, positive class and threshold come from the model "
        "that scored each table unless set here."
    )
    inputs = (Port("scored", "table", "Outputs of predict.", multiple=True),)
    outputs = (Port("metrics", "metrics", "Scalar metrics and chart data per input."),)
    params = (
        Param(
            "label",
            "string",
            "The label column (not set: the model's).",
            nullable=True,
            widget="text",
        ),
        Param(
            "positive",
            "string",
            "The positive class (not set: the model's).",
            nullable=True,
            widget="text",
        ),
        Param(
            "threshold",
            "number",
            "Cut-off for the confusion matrix (not set: the model's).",
            nullable=True,
            minimum=0,
            maximum=1,
            widget="number",
        ),
    )

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        return []

    def infer_schema(self, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        from pyspark.sql import functions as F

        where = ctx.where
        reports: dict[str, Any] = {}
        for name, df in inputs["scored"].items():
            manifest = self._manifest(ctx.input_lineage("scored", name))
            label = params.get("label") or (manifest or {}).get("label")
            if not label:
                raise OperatorError(
                    f"{where}: set 'label': the input \"{name}\" records no model to take it from."
                )
            for needed in (label, "score"):
                if needed not in df.columns:
                    raise OperatorError(
                        f'{where}: the input "{name}" has no column "{needed}". Link the output of predict '
                        f"(columns: {', '.join(df.columns)})."
                    )
            positive = (
                params.get("positive")
                if params.get("positive")
                else (manifest or {}).get("positive", 1)
            )
            threshold = (
                params["threshold"]
                if params.get("threshold") is not None
                else (manifest or {}).get("threshold", 0.5)
            )
            rows = df.count()
            check_collect(ctx, where, rows, 16, "the rows scored")
            nulls = df.where(col(label).isNull() | col("score").isNull()).count()
            if nulls:
                raise OperatorError(
                    f'{where}: the input "{name}" has {nulls:,} rows without a label or a score.'
                )
            table = df.select(
                (col(label).cast("string") == F.lit(str(positive))).cast("int").alias("y"),
                col("score").cast("double").alias("s"),
            ).toArrow()
            y = table.column("y").to_numpy().astype(np.int8)
            s = table.column("s").to_numpy()
            if y.sum() == 0:
                raise OperatorError(
                    f'{where}: no row of "{name}" has the positive class {positive!r} in "{label}"; check the '
                    "label and the positive class."
                )
            try:
                report = binary_report(y, s, float(threshold))
            except ValueError as exc:
                raise OperatorError(f"{where}: {exc}") from exc
            report["label"], report["positive"] = label, positive
            if manifest is not None:
                report["model"] = {
                    "type": manifest.get("model_type"),
                    **manifest.get("lineage", {}),
                }
                if manifest.get("feature_importance"):
                    report["feature_importance"] = manifest["feature_importance"][:50]
            reports[name] = report
            ctx.log(f"{name}: AUC {report['auc']:.4f}, KS {report['ks']:.4f} on {rows:,} rows")
        first = next(iter(reports.values()))
        summary: dict[str, Any] = {k: first[k] for k in SCALARS}
        if len(reports) > 1:
            summary["by_input"] = {n: {k: r[k] for k in SCALARS} for n, r in reports.items()}
        ctx.set_metrics(summary)
        return {"metrics": {**summary, "inputs": reports}}

    @staticmethod
    def _manifest(lineage: dict[str, Any]) -> dict[str, Any] | None:
        """The manifest of the model that scored an input (from its lineage)."""
        ref = lineage.get("model")
        if not ref or not ref.get("path"):
            return None
        path = Path(ref["path"])
        return read_manifest(path) if path.exists() else None
