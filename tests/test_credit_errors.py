"""Bad credit-risk params get one clear sentence naming what is wrong and how to fix it."""

from __future__ import annotations

import pytest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark


def _run(tmp_path, workspace, nodes, links):
    gen = {"id": "gen", "op": "import.sample", "params": {"rows": 1500, "seed": 2}}
    result = run_flow(write_flow(tmp_path, [gen, *nodes], links, name="bad"), workspace)
    return {k: v.error for k, v in result.nodes.items() if v.error and "Not run" not in v.error}


def test_credit_operators_name_what_is_wrong(spark, workspace, tmp_path) -> None:
    nodes = [
        {
            "id": "fx",
            "op": "features.extract",
            "params": {"label": "default", "features": [{"kind": "discrete", "column": "region"}]},
        },
        {"id": "card", "op": "train.scorecard", "params": {"label": "default"}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "auto_tune": False,
                "monotone": {"region": "increasing"},
            },
        },
        {
            "id": "woe",
            "op": "features.woe",
            "params": {"label": "default", "bin_edits": [{"column": "age", "groups": [["1"]]}]},
        },
    ]
    links = [
        ("gen.out", "fx.train"),
        ("fx.train", "card.train"),
        ("gen.out", "gbdt.train"),
        ("gen.out", "woe.train"),
    ]
    errors = _run(tmp_path, workspace, nodes, links)
    assert "takes WOE features (the train output of features.woe) or a raw table" in errors["card"]
    assert 'constrains "region", which holds categories' in errors["gbdt"]
    assert 'column "age" is a number: its edit gives "splits"' in errors["woe"]
    assert all("Traceback" not in e for e in errors.values())


def test_a_scorecard_on_raw_rows_bins_them_itself(spark, workspace, tmp_path) -> None:
    import pyarrow.parquet as pq

    nodes = [
        {
            "id": "card",
            "op": "train.scorecard",
            "params": {"label": "default", "exclude": ["customer_id", "application_date"]},
        },
        {"id": "score", "op": "predict", "params": {}},
    ]
    links = [("gen.out", "card.train"), ("card.model", "score.model"), ("gen.out", "score.data")]
    gen = {"id": "gen", "op": "import.sample", "params": {"rows": 3000, "seed": 5}}
    result = run_flow(write_flow(tmp_path, [gen, *nodes], links, name="raw"), workspace)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    rows = pq.read_table(result.nodes["score"].outputs["out"]["path"]).to_pylist()
    assert all(300 < r["points"] < 900 for r in rows)
    assert result.nodes["card"].metrics["valid_auc"] > 0.7
