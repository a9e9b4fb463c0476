"""The GBDT column encoding agrees across its halves: the Spark expressions predict scores with,
the driver-side Arrow encoding train.gbdt trains on, and the pure-Python row the scoring service
builds from a JSON instance give LightGBM the same numbers for the same rows: missing values,
unseen categories and booleans included."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.gbdt_encoding.online import gbdt_row, prepare_gbdt_columns
from engine.gbdt_encoding.spark import collect_gbdt_columns, encode_gbdt_table, gbdt_columns

pytestmark = pytest.mark.spark

SPEC = [
    {
        "name": "city",
        "type": "string",
        "categorical": True,
        "categories": ["Zürich", "lisbon", "porto"],
    },
    {"name": "flag", "type": "boolean", "categorical": True, "categories": ["false", "true"]},
    {"name": "only_true", "type": "boolean", "categorical": True, "categories": ["true"]},
    {"name": "amount", "type": "double", "categorical": False},
    {"name": "count", "type": "int", "categorical": False},
]
SCHEMA = "city string, flag boolean, only_true boolean, amount double, count int, y int"
EDGES = [
    {"city": "lisbon", "flag": True, "only_true": True, "amount": 1.5, "count": 3},
    {"city": "porto", "flag": False, "only_true": False, "amount": None, "count": None},
    {"city": None, "flag": None, "only_true": None, "amount": -0.0, "count": 7},
    {"city": "faro", "flag": True, "only_true": True, "amount": 2.0, "count": 1},  # unseen city
    {"city": "Zürich", "flag": False, "only_true": False, "amount": 1e300, "count": -2},
    {"city": "", "flag": True, "only_true": None, "amount": -1e-300, "count": 2**31 - 1},
    {"city": "LISBON", "flag": False, "only_true": True, "amount": 0.1, "count": 0},
]


def _random_rows(n: int) -> list[dict]:
    rng = random.Random(7)
    cities = ["Zürich", "lisbon", "porto", "faro", "", "日本語", None]
    bools = [True, False, None]
    return [
        {
            "city": rng.choice(cities),
            "flag": rng.choice(bools),
            "only_true": rng.choice(bools),
            "amount": rng.choice([None, rng.uniform(-1e6, 1e6), float(rng.randint(-5, 5))]),
            "count": rng.choice([None, rng.randint(-(2**31), 2**31 - 1)]),
        }
        for _ in range(n)
    ]


def test_spark_driver_and_online_encodings_agree(spark) -> None:
    rows = EDGES + _random_rows(500)
    df = spark.createDataFrame([(*r.values(), i % 2) for i, r in enumerate(rows)], SCHEMA)
    df = df.coalesce(1)  # keep the rows in the order they were given
    in_spark = df.select(*gbdt_columns(SPEC)).toPandas().to_numpy(dtype=np.float64)
    from pyspark.sql import functions as F

    on_driver, _ = encode_gbdt_table(collect_gbdt_columns(df, F.col("y"), SPEC), SPEC)
    prepared = prepare_gbdt_columns(SPEC)
    online = np.array([gbdt_row(prepared, r) for r in rows], dtype=np.float64)

    assert np.array_equal(in_spark, on_driver, equal_nan=True)
    assert np.array_equal(in_spark, online, equal_nan=True), [
        (rows[i], in_spark[i].tolist(), online[i].tolist())
        for i in range(len(rows))
        if not np.array_equal(in_spark[i], online[i], equal_nan=True)
    ][:3]
    # what the encoding means: a category's position, NaN for missing and unseen values
    assert online[0].tolist()[:3] == [1.0, 1.0, 0.0]
    assert online[1].tolist()[:2] == [2.0, 0.0] and np.isnan(online[1][2:]).all()
    assert np.isnan(online[2][:3]).all()
    assert np.isnan(online[3][0]) and np.isnan(online[5][0]) and np.isnan(online[6][0])


def test_the_scoring_service_scores_a_boolean_feature_as_predict_does(
    spark, workspace, tmp_path
) -> None:
    """A model that leans on a boolean column gives the same score online as predict."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.serving.scoring import LoadedModel

    from .conftest import run_flow, write_flow

    rng = random.Random(3)
    rows = []
    for _ in range(600):
        flag = rng.random() < 0.5
        city = rng.choice(["lisbon", "porto", None])
        rows.append(
            {
                "flag": None if rng.random() < 0.05 else flag,
                "city": city,
                "amount": rng.uniform(0, 10),
                "y": int(flag if rng.random() < 0.9 else not flag),
            }
        )
    data = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    nodes = [
        {"id": "rows", "op": "import.parquet", "params": {"path": str(data)}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {"label": "y", "engine": "driver", "auto_tune": False},
        },
        {"id": "score", "op": "predict", "params": {}},
    ]
    links = [("rows.out", "gbdt.train"), ("gbdt.model", "score.model"), ("rows.out", "score.data")]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace)
    assert result.status == "succeeded", result.nodes
    scored = pq.read_table(result.nodes["score"].outputs["out"]["path"]).to_pylist()
    model = LoadedModel("flagged", 1, result.nodes["gbdt"].outputs["model"]["path"])
    instances = [{k: r[k] for k in ("flag", "city", "amount")} for r in scored]
    online = model.scores(instances)
    offline = [r["score"] for r in scored]
    assert np.allclose(online, offline, atol=1e-12)
    # the boolean carries the signal: rows that are true score far above rows that are false
    mean = {
        f: float(np.mean([s for r, s in zip(scored, online, strict=True) if r["flag"] is f]))
        for f in (True, False)
    }
    assert mean[True] - mean[False] > 0.5, mean
