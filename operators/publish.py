"""publish: register a trained model as the next version of a named model (one click to serve)."""

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
    model_name_problem,
    read_manifest,
)


class Publish(Operator):
    id = "publish"
    version = 1
    category = "Deploy"
    title = "Publish"
    description = (
        "Registers the model, with its feature engineering inside, as the next version of a "
        "named model in the workspace registry. The first version of a name goes to production "
        "at once and `seer serve` starts answering for it; later versions wait in staging until "
        "promoted (`seer models promote`), or take a share of traffic as a canary. A rerun with "
        "the same model publishes nothing new."
    )
    inputs = (Port("model", "model", "A model bundle (train.hdlr, train.gbdt)."),)
    outputs = ()
    params = (
        Param(
            "name",
            "string",
            "The model's name in the registry, e.g. credit-risk.",
            required=True,
            min_length=1,
            widget="text",
        ),
        Param(
            "description", "string", "A note stored with the version.", default="", widget="text"
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = model_name_problem(f"The 'name' parameter of {self.id}", params.get("name"))
        return [("name", problem)] if problem else []

    def infer_schema(self, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        bundle: Path = inputs["model"]
        manifest = read_manifest(bundle)
        try:
            version = ctx.publish_model(bundle, params["name"], params["description"])
        except ValueError as exc:  # the registry's sentence: a bad name, a damaged bundle
            raise OperatorError(f"{ctx.where}: {exc}") from exc
        ctx.log(f"published {params['name']} version {version} ({manifest['model_type']})")
        ctx.set_metrics({"version": version})
        return {}
