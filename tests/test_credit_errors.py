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
