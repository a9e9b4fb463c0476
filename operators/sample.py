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
    parse_shift,
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
        Param(
            "shift",
            "string",
            "credit_risk only: change the applications from a month on, as `seer sample-data "
            "--shift` does, e.g. from=2024-07,channel=partner,rate=+2 (keys: from=YYYY-MM, "
            "channel, channel_share, channel_odds, rate, default_odds; docs/serving.md). Rows "
            "before that month are unchanged.",
            nullable=True,
            widget="text",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if params.get("shift") is None:
            return []
        if (params.get("dataset") or "credit_risk") != "credit_risk":
            return [("shift", f"The 'shift' parameter of {self.id} applies to credit_risk only.")]
        try:
            parse_shift(params["shift"])
        except ValueError as exc:
            return [
                (
                    "shift",
                    f"The 'shift' parameter of {self.id}: {str(exc).removeprefix('--shift: ')}",
                )
            ]
        return []

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
        shift = parse_shift(params["shift"]) if params.get("shift") else None
        if shift is not None:
            ctx.log(f"shifted: {shift.describe()}")
        generate_to_parquet(
            params["dataset"],
            params["rows"],
            params["seed"],
            path,
            check=ctx.check_cancelled,
            shift=shift,
        )
        return {"out": ctx.spark.read.parquet(str(path))}
