"""features.extract in flows: fitted on train, applied to test, validated with the feature named."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.features.online import compile_transform
from engine.flow import FlowError, load_flow, prepare_flow

from .conftest import run_flow, write_flow

FEATURES = [
    {"kind": "continuous", "column": "income", "transform": ["clip", "log1p", "standardize"]},
    {"kind": "discrete", "column": "loan_purpose"},
    {"kind": "discrete", "column": "region", "min_count": 50},
    {"kind": "bucket", "column": "age", "buckets": 8},
    {"kind": "bucket", "column": "debt_to_income", "boundaries": [0.2, 0.4, 0.6]},
    {
        "kind": "combine",
        "of": [
            {"kind": "discrete", "column": "home_ownership"},
            {"kind": "bucket", "column": "age", "buckets": 4},
        ],
    },
    {"kind": "datetime", "column": "application_date", "parts": ["month", "weekday"]},
]


def flow(folder: Path, features=FEATURES, **params) -> Path:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 3000, "seed": 5}},
        {"id": "split", "op": "split", "params": {"ratio": 0.7}},
        {
            "id": "fx",
            "op": "features.extract",
            "params": {
                "label": "default",
                "features": features,
                "hash_bits": 18,
                "keep": ["customer_id"],
                **params,
            },
        },
    ]
    links = [("gen.out", "split.in"), ("split.train", "fx.train"), ("split.test", "fx.test")]
    return write_flow(folder, nodes, links)


@pytest.mark.spark
def test_extract_fits_on_train_and_transforms_both_alike(spark, workspace, tmp_path: Path) -> None:
    result = run_flow(flow(tmp_path), workspace)
    assert result.status == "succeeded", result.nodes["fx"].error
    out = result.nodes["fx"].outputs
    assert set(out) == {"train", "test", "transform"}
    assert result.nodes["fx"].rows["train"] + result.nodes["fx"].rows["test"] == 3000
    assert [c["name"] for c in out["train"]["schema"]] == [
        "default",
        "customer_id",
        "row_key",  # the row's identity: hold-outs downstream are drawn from it
        "features_idx",
        "features_val",
    ]
    fitted = json.loads((Path(out["transform"]["path"]) / "transform.json").read_text())
    assert fitted["features"][3]["fitted"]["boundaries"]  # quantiles fitted on train
    # the test rows, transformed in Spark, equal the online compiler's output on the raw rows
    raw = {
        r["customer_id"]: r
        for r in pq.read_table(result.nodes["split"].outputs["test"]["path"]).to_pylist()
    }
    py = compile_transform(fitted)
    for row in pq.read_table(out["test"]["path"]).to_pylist()[:500]:
        assert py(raw[row["customer_id"]]) == (row["features_idx"], row["features_val"])
    # lineage: both tables record the transform that produced their features
    lineage = workspace.store.lineage(result.run_id, "fx", "test")
    assert lineage["transform"] == {"run_id": result.run_id, "node_id": "fx", "port": "transform"}


@pytest.mark.spark
def test_without_a_test_input_there_is_no_test_output(spark, workspace, tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 500}},
        {
            "id": "fx",
            "op": "features.extract",
            "params": {"label": "default", "features": FEATURES[:2]},
        },
    ]
    result = run_flow(write_flow(tmp_path, nodes, [("gen.out", "fx.train")]), workspace)
    assert result.status == "succeeded" and set(result.nodes["fx"].outputs) == {
        "train",
        "transform",
    }


@pytest.mark.parametrize(
    ("features", "bits", "expected"),
    [
        (
            [{"kind": "bucket", "column": "agee", "buckets": 5}],
            18,
            'Feature #1 bucket(agee): column "agee" is not in the input. Did you mean "age"?',
        ),
        (
            [{"kind": "bucket", "column": "age", "buckets": 1}],
            18,
            "Feature #1 bucket(age): 'buckets' must be an integer in [2, 1000]. Got 1.",
        ),
        (
            [
                {
                    "kind": "combine",
                    "of": [
                        {"kind": "continuous", "column": "income"},
                        {"kind": "discrete", "column": "region"},
                    ],
                }
            ],
            18,
            "a continuous column must be bucketed to be crossed: use bucket",
        ),
        (
            [{"kind": "discrete", "column": "income"}],
            18,
            'Feature #1 discrete(income): column "income" is double; discrete takes text, integer, boolean or date',
        ),
        (
            [{"kind": "continuous", "column": "region"}],
            18,
            'column "region" is string, not numeric',
        ),
        (
            [{"kind": "discrete", "column": "region"}, {"kind": "discrete", "column": "region"}],
            18,
            'Feature #2 discrete(region): has the same name "region" as #1',
        ),
        (
            [{"kind": "datetime", "column": "application_date", "parts": ["hour"]}],
            18,
            "is a date: it has no hour",
        ),
        ([{"kind": "discrete", "column": "region"}], 40, "must be an integer in [10, 30]. Got 40."),
    ],
)
def test_bad_feature_configurations_are_rejected_at_validation(
    tmp_path: Path, features, bits, expected
) -> None:
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(flow(tmp_path, features=features, hash_bits=bits)))
    messages = [p.message for p in err.value.problems if p.node == "fx"]
    assert any(expected in m for m in messages), messages
    assert all(m.startswith("The ") for m in messages)
