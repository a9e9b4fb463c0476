"""Models trained on the same rows hold out the same validation rows whatever features they
were given, so their validation figures compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bundle import read_manifest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark

EXCLUDE = ["customer_id", "application_date"]
FEATURES_A = [
    {"kind": "bucket", "column": "age", "buckets": 10},
    {"kind": "discrete", "column": "home_ownership"},
]
FEATURES_B = [
    {"kind": "bucket", "column": "credit_score", "buckets": 5},
    {"kind": "continuous", "column": "debt_to_income", "transform": ["standardize"]},
    {"kind": "discrete", "column": "loan_purpose"},
]


def _flow(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)

    def extract(node: str, feats: list) -> dict:
        params = {"label": "default", "features": feats, "keep": ["customer_id"], "hash_bits": 16}
        return {"id": node, "op": "features.extract", "params": params}

    def hdlr(node: str, **extra: object) -> dict:
        params = {"label": "default", "tune_budget": 2, "hash_bits": 16, **extra}
        return {"id": node, "op": "train.hdlr", "params": params}

    def gbdt(node: str, **extra: object) -> dict:
        params = {"label": "default", "auto_tune": False, "max_rounds": 20, **extra}
        return {"id": node, "op": "train.gbdt", "params": params}

    nodes = [
        {"id": "rows", "op": "import.sample", "params": {"rows": 3000, "seed": 3}},
        extract("fa", FEATURES_A),
        extract("fb", FEATURES_B),
        hdlr("ha"),
        hdlr("hb"),
        hdlr("hraw", exclude=EXCLUDE),
        gbdt("g_all", exclude=EXCLUDE),
        gbdt("g_few", columns=["age", "income", "loan_purpose"]),
        gbdt("g_folds", exclude=EXCLUDE, tune_folds=3),
        gbdt("g_folds_few", columns=["age", "channel"], tune_folds=3),
    ]
    links = [
        ("rows.out", "fa.train"),
        ("rows.out", "fb.train"),
        ("fa.train", "ha.train"),
        ("fb.train", "hb.train"),
        ("rows.out", "hraw.train"),
        ("rows.out", "g_all.train"),
        ("rows.out", "g_few.train"),
        ("rows.out", "g_folds.train"),
        ("rows.out", "g_folds_few.train"),
    ]
    return write_flow(folder, nodes, links)


def test_two_feature_sets_on_the_same_rows_hold_out_the_same_rows(
    spark, workspace, tmp_path: Path
) -> None:
    from operators.modeling import holdout

    result = run_flow(_flow(tmp_path), workspace)
    assert result.status == "succeeded", {k: n.error for k, n in result.nodes.items()}

    def validation(node: str) -> dict:
        return read_manifest(Path(result.nodes[node].outputs["model"]["path"]))["validation"]

    # the held-out customers themselves: the same on both feature tables
    held = []
    for node in ("fa", "fb"):
        path = result.nodes[node].outputs["train"]["path"]
        table = spark.read.parquet(path)
        assert table.columns[:3] == ["default", "customer_id", "row_key"]
        held.append({r["customer_id"] for r in holdout(table, 0.2, 42)[1].collect()})
    assert held[0] == held[1] and 450 < len(held[0]) < 750
    # train.hdlr: two feature tables and the raw table (its default transform) alike
    hdlr = [validation(n) for n in ("ha", "hb", "hraw")]
    assert hdlr[0]["fingerprint"] == hdlr[1]["fingerprint"] == hdlr[2]["fingerprint"], hdlr
    rows = int(hdlr[0]["fingerprint"].split(":")[0])
    assert 450 < rows < 750  # about 20 % of 3,000
    # train.gbdt: all columns or three of them, one hold-out; k folds alike
    gbdt = [validation(n) for n in ("g_all", "g_few")]
    assert gbdt[0]["fingerprint"] == gbdt[1]["fingerprint"], gbdt
    assert 200 < gbdt[0]["rows"] < 400  # about 10 %
    folds = [validation(n) for n in ("g_folds", "g_folds_few")]
    assert folds[0]["kind"] == "3 folds" and folds[0]["fingerprint"] == folds[1]["fingerprint"]
