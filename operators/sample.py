"""import.sample: a generated dataset, so sample flows run anywhere with no data to fetch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.opapi import (
    DATASETS,
    Operator,
    Param,
    Port,
    RunContext,
    TableSchema,
    generate_to_parquet,
    sample_schema,
    seed_param,
)


class ImportSample(Operator):
    id = "import.sample"
    version = 1
    category = "Data"
    title = "Sample dataset"
    description = (
        "Generates a synthetic dataset, deterministic by seed: the same dataset, rows and seed "
        "always give the same table. `seer sample-data` writes the same data to a file. "
        + " ".join(f"{d.name}: {d.description}" for d in DATASETS.values())
    )
    outputs = (Port("out", "table", "The generated rows."),)
    params = (
        Param(
            "dataset",
            "string",
            "Which dataset to generate.",
            default="credit_risk",
            enum=tuple(sorted(DATASETS)),
            widget="select",
        ),
        Param(
            "rows",
            "integer",
            "Number of rows.",
            default=10_000,
            minimum=1,
            maximum=1_000_000_000,
            widget="number",
        ),
        seed_param("Seed of the generated rows (the same seed gives the same data)."),
    )

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return {"out": sample_schema(params.get("dataset") or "credit_risk")}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = ctx.scratch_dir() / f"{params['dataset']}.parquet"
        ctx.log(
            f"generating {params['rows']:,} rows of {params['dataset']} (seed {params['seed']})"
        )
        generate_to_parquet(
            params["dataset"], params["rows"], params["seed"], path, check=ctx.check_cancelled
        )
        return {"out": ctx.spark.read.parquet(str(path))}
