"""train.gbdt on the driver: the rows cross from Spark once, as they are; categories, the
validation hold-out and the row order are worked out in numpy, and must agree with what predict
computes in Spark and not depend on how Spark delivered the rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.bundle import read_manifest
from engine.gbdt_encoding.spark import collect_gbdt_columns, encode_gbdt_table, gbdt_columns
from operators.gbdt_driver import categories_of, ordered_holdout, row_hashes

from .conftest import run_flow, write_flow

SPEC = [
    {"name": "city", "type": "string", "categorical": True},
    {"name": "flag", "type": "boolean", "categorical": True},
    {"name": "amount", "type": "double", "categorical": False},
    {"name": "count", "type": "int", "categorical": False},
]


def train_gbdt(folder: Path, ws, source: dict, name: str = "gbdt", **params: object) -> object:
    """Run a two-node flow: `source` (an import node's op and params) into train.gbdt on the
    generated loan rows' label."""
    nodes = [
        {"id": "rows", **source},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "exclude": ["customer_id", "application_date"],
                **params,
            },
        },
    ]
    return run_flow(write_flow(folder, nodes, [("rows.out", "gbdt.train")], name=name), ws)


def test_categories_keep_the_most_frequent_values_ties_by_value(monkeypatch) -> None:
    import operators.gbdt_driver as gbdt_driver

    monkeypatch.setattr(gbdt_driver, "MAX_CATEGORIES", 3)
    table = pa.table(
        {
            "__y": [0] * 9,
            "city": ["b", "b", "a", "a", "c", "c", "d", None, None],
            "flag": ["true"] * 9,
            "amount": [1.0] * 9,
            "count": [1.0] * 9,
        }
    )
    spec = categories_of(table, SPEC)
    # a, b and c are seen twice, d once; missing values are not a category
    assert spec[0]["categories"] == ["a", "b", "c"]
    assert spec[1]["categories"] == ["true"]
    assert "categories" not in spec[2]


def test_row_hashes_depend_on_content_not_position() -> None:
    x = np.array([[1.0, np.nan], [-0.0, 2.0], [3.0, 4.0]])
    y = np.array([1, 0, 1], dtype=np.int8)
    h = row_hashes(x, y, 42)
    assert len(set(h.tolist())) == 3
    order = [2, 0, 1]
    assert row_hashes(x[order], y[order], 42).tolist() == h[order].tolist()
    # -0.0 is 0.0 and every NaN is the same missing value
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    same = np.array([[1.0, other_nan], [0.0, 2.0], [3.0, 4.0]])
    assert row_hashes(same, y, 42).tolist() == h.tolist()
    assert row_hashes(x, y, 43).tolist() != h.tolist()
    flipped = y.copy()
    flipped[0] = 0
    assert row_hashes(x, flipped, 42)[0] != h[0]


def test_holdout_is_about_the_share_asked_and_fixed_by_content() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 3))
    y = (rng.random(20_000) < 0.3).astype(np.int8)
    keys = rng.integers(0, 2**63, size=20_000).astype(np.uint64)
    xs, ys, ks, n_fit = ordered_holdout(x, y, keys, 0.1, 42)
    assert 0.09 < 1 - n_fit / len(y) < 0.11
    perm = rng.permutation(len(y))
    xs2, ys2, ks2, n_fit2 = ordered_holdout(x[perm], y[perm], keys[perm], 0.1, 42)
    assert n_fit2 == n_fit
    assert np.array_equal(xs2, xs) and np.array_equal(ys2, ys) and np.array_equal(ks2, ks)
    # the validation rows follow the rows' identities, not the feature columns
    _, _, ks3, n_fit3 = ordered_holdout(x[:, :1], y, keys, 0.1, 42)
    assert n_fit3 == n_fit and set(ks3[n_fit:].tolist()) == set(ks[n_fit:].tolist())
    assert sorted(map(tuple, xs.tolist())) == sorted(map(tuple, x.tolist()))


@pytest.mark.spark
def test_driver_encoding_equals_what_predict_computes_in_spark(spark) -> None:
    rows = [
        ("lisbon", True, 1.5, 3, 1),
        ("porto", False, None, None, 0),
        (None, None, -0.0, 7, 1),
        ("faro", True, 2.0, 1, 0),  # not among the fitted categories below: scores as missing
        ("Zürich", False, 1e300, -2, 1),
    ]
    df = spark.createDataFrame(rows, "city string, flag boolean, amount double, count int, y int")
    spec = [
        {**SPEC[0], "categories": ["Zürich", "lisbon", "porto"]},
        {**SPEC[1], "categories": ["false", "true"]},
        SPEC[2],
        SPEC[3],
    ]
    from pyspark.sql import functions as F

    x, y = encode_gbdt_table(collect_gbdt_columns(df, F.col("y"), spec), spec)
    in_spark = df.select(*gbdt_columns(spec)).toPandas().to_numpy(dtype=np.float64)
    assert np.array_equal(x, in_spark, equal_nan=True)
    assert y.tolist() == [1, 0, 1, 0, 1]
    assert np.isnan(x[3, 0]) and x[0, 0] == 1.0 and x[4, 0] == 0.0


@pytest.mark.spark
@pytest.mark.parametrize("folds", [1, 3])
def test_the_same_rows_give_the_same_model_however_spark_delivers_them(
    spark, workspace, tmp_path: Path, folds: int
) -> None:
    from engine.sampledata import write_sample

    source = tmp_path / "rows.parquet"
    write_sample("credit_risk", 5000, 11, source)
    table = pq.read_table(source)
    one_file = tmp_path / "one"
    one_file.mkdir()
    pq.write_table(table, one_file / "part-0.parquet")
    # the rows reversed and spread over three files: Spark reads them in other partitions
    scattered = tmp_path / "scattered"
    scattered.mkdir()
    reversed_rows = table.take(pa.array(np.arange(table.num_rows)[::-1]))
    for i, part in enumerate(np.array_split(np.arange(table.num_rows), 3)):
        pq.write_table(reversed_rows.take(pa.array(part)), scattered / f"part-{i}.parquet")

    models = []
    for folder in (one_file, scattered):
        result = train_gbdt(
            tmp_path,
            workspace,
            {"op": "import.parquet", "params": {"path": str(folder)}},
            folder.name,
            tune_budget=2,
            tune_folds=folds,
        )
        assert result.status == "succeeded", result.nodes["gbdt"].error
        models.append(Path(result.nodes["gbdt"].outputs["model"]["path"]))
    assert (models[0] / "model.txt").read_text() == (models[1] / "model.txt").read_text()
    manifest = read_manifest(models[0])
    assert manifest["training"]["validation"] == ("hold-out" if folds == 1 else "3 folds")
    # the tuned choice never does worse than LightGBM's defaults on the same validation rows
    assert manifest["metrics"]["valid_auc"] >= manifest["tuning"][0]["valid_auc"] > 0.7
    logged = [r["message"] for r in workspace.store.logs(result.run_id) if r["node_id"] == "gbdt"]
    assert any("3-fold validation AUC" in m for m in logged) == (folds == 3), logged


@pytest.mark.spark
def test_rows_over_the_driver_limit_fail_before_collecting_or_train_on_a_sample(
    spark, workspace, tmp_path: Path, monkeypatch
) -> None:
    import operators.modeling as modeling

    # a driver allowed to take 1 MB: the 12,000 rows below need about 2.6 MB
    monkeypatch.setattr(modeling, "driver_limit_bytes", lambda _spark: 2**20)

    def train(name: str, **params: object) -> object:
        source = {"op": "import.sample", "params": {"rows": 12000, "seed": 4}}
        return train_gbdt(tmp_path, workspace, source, name, auto_tune=False, **params)

    refused = train("too_big")
    assert refused.nodes["gbdt"].status == "failed"
    err = refused.nodes["gbdt"].error
    assert "12,000 rows" in err and "over its limit of 1 MB" in err, err
    assert "'sample_rows'" in err and "SEER_DRIVER_MEMORY" in err, err

    sampled = train("sampled", sample_rows=3000)
    assert sampled.status == "succeeded", sampled.nodes["gbdt"].error
    logged = [r["message"] for r in workspace.store.logs(sampled.run_id) if r["node_id"] == "gbdt"]
    assert any("training on a sample of about 3,000 of 12,000 rows" in m for m in logged), logged


@pytest.mark.spark
@pytest.mark.parametrize(
    ("rows", "folds", "expected"),
    [
        (12, 1, "on the 10% hold-out: 1 rows, 1 of them positive"),
        (40, 10, "on fold 4 of 10: 1 rows, 0 of them positive"),
    ],
)
def test_too_few_rows_to_validate_on_are_named(
    spark, workspace, tmp_path: Path, rows: int, folds: int, expected: str
) -> None:
    source = {"op": "import.sample", "params": {"rows": rows, "seed": 1}}
    result = train_gbdt(tmp_path, workspace, source, tune_folds=folds)
    err = result.nodes["gbdt"].error
    assert result.nodes["gbdt"].status == "failed"
    assert err.startswith('train.gbdt (node "gbdt") cannot tune and validate'), err
    assert expected in err and "both classes are needed there" in err, err
