"""The closed loop: model.load (a registered model as a flow input) and import.serving_log
(the service's logged predictions joined with the true outcomes sent as feedback)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from typing import Any

from engine.opapi import Operator, OperatorError, Param, Port, RunContext, model_name_problem


class ModelLoad(Operator):
    id = "model.load"
    version = 1
    category = "Deploy"
    title = "Registered model"
    description = (
        "A model from the workspace registry as a flow input — the production version of a "
        "name, or a given version — for batch scoring with predict. Looked up on every run (a "
        "promotion changes what it loads)."
    )
    outputs = (Port("model", "model", "The model bundle."),)
    params = (
        Param(
            "name",
            "string",
            "The registered model's name.",
            required=True,
            min_length=1,
            widget="text",
        ),
        Param(
            "version",
            "integer",
            "A version number (not set: the production version).",
            nullable=True,
            minimum=1,
            widget="number",
        ),
    )

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        return params.get("version") is not None

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = model_name_problem(f"The 'name' parameter of {self.id}", params.get("name"))
        return [("name", problem)] if problem else []

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        version, path = ctx.registered_model(params["name"], params.get("version"))
        folder = ctx.artifact_dir("model")
        shutil.copytree(path, folder, dirs_exist_ok=True)
        ctx.log(f"loaded {params['name']} version {version}")
        ctx.set_metrics({"version": version})
        return {"model": folder}


class ImportServingLog(Operator):
    id = "import.serving_log"
    version = 1
    category = "Data"
    title = "Serving log"
    description = (
        "The predictions the scoring service made for a model, one row per scored instance with "
        "its input columns, score, prediction, model version and time, joined with the true "
        "outcome sent to the :feedback endpoint (column `label`; the latest feedback wins). The "
        "way back from production into training. Reread on every run."
    )
    outputs = (Port("out", "table", "Logged predictions with their outcomes."),)
    params = (
        Param("model", "string", "The model's name.", required=True, min_length=1, widget="text"),
        Param(
            "only_labeled",
            "boolean",
            "Keep only predictions that received feedback.",
            default=True,
            widget="checkbox",
        ),
    )

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        return False

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = model_name_problem(f"The 'model' parameter of {self.id}", params.get("model"))
        return [("model", problem)] if problem else []

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        where = f'import.serving_log (node "{ctx.node_id}")'
        problem = model_name_problem(f"The 'model' parameter of {where}", params["model"])
        if problem:
            raise OperatorError(problem)
        folder = (ctx.workspace_dir or ctx.flow_dir) / "logs" / "serving" / params["model"]
        if not folder.is_dir():
            raise OperatorError(
                f'{where}: the service has logged nothing for "{params["model"]}" yet ({folder}).'
            )
        labels: dict[str, Any] = {}
        for path in sorted(folder.glob("feedback-*.jsonl")):
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    labels[rec["id"]] = rec["label"]
        rows = []
        for path in sorted(folder.glob("predictions-*.jsonl")):
            for line in path.read_text("utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                for i, (inst, pred) in enumerate(
                    zip(rec["instances"], rec["predictions"], strict=True)
                ):
                    pid = f"{rec['request_id']}/{i}"
                    if params["only_labeled"] and pid not in labels:
                        continue
                    rows.append(
                        {
                            **inst,
                            "prediction_id": pid,
                            "model_version": rec["version"],
                            "ts": rec["ts"],
                            "score": pred["score"],
                            "prediction": pred["prediction"],
                            "label": labels.get(pid),
                        }
                    )
        if not rows:
            raise OperatorError(
                f'{where}: no logged prediction of "{params["model"]}" '
                f"{'has feedback yet' if params['only_labeled'] else 'was found'}."
            )
        out = ctx.table_dir("out")
        pq.write_table(pa.Table.from_pylist(rows), out / "part-00000.parquet")
        ctx.log(
            f"{len(rows):,} logged predictions, {sum(r['label'] is not None for r in rows):,} with feedback"
        )
        return {"out": out}
