"""train.gbdt on the executors: LightGBM's data-parallel training in a Spark barrier stage."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import pytest

from engine.bundle import read_manifest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark


def flow(folder: Path, engine: str, name: str, **gbdt: object) -> Path:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 12000, "seed": 5}},
        {"id": "split", "op": "split", "params": {"ratio": 0.8, "seed": 2}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "exclude": ["customer_id", "application_date"],
                "engine": engine,
                "auto_tune": False,
                "rounds": 100,
                **gbdt,
            },
        },
        {"id": "score", "op": "predict", "params": {}},
        {"id": "eval", "op": "evaluate.binary", "params": {}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "gbdt.train"),
        ("gbdt.model", "score.model"),
        ("split.test", "score.data"),
        ("score.out", "eval.scored"),
    ]
    return write_flow(folder, nodes, links, name=name)


def test_distributed_gbdt_trains_across_partitions_and_scores_like_the_driver(
    spark, workspace, tmp_path: Path
) -> None:
    on_cluster = run_flow(flow(tmp_path, "spark", "dist"), workspace)
    on_driver = run_flow(flow(tmp_path, "driver", "driver"), workspace)
    assert on_cluster.status == "succeeded", {
        k: v.error for k, v in on_cluster.nodes.items() if v.error
    }
    bundle = Path(on_cluster.nodes["gbdt"].outputs["model"]["path"])
    manifest = read_manifest(bundle)
    assert manifest["training"] == {"engine": "spark", "machines": 2}
    # the same bundle format: LightGBM model text that loads, with 100 trees
    booster = lgb.Booster(model_str=(bundle / "model.txt").read_text())
    assert booster.num_trees() == 100
    auc_cluster = on_cluster.nodes["eval"].metrics["auc"]
    auc_driver = on_driver.nodes["eval"].metrics["auc"]
    assert auc_cluster > 0.7 and abs(auc_cluster - auc_driver) < 0.02, (auc_cluster, auc_driver)
    # deterministic: the same data gives the same model text again
    again = run_flow(flow(tmp_path, "spark", "dist"), workspace, force={"gbdt"})
    text2 = (Path(again.nodes["gbdt"].outputs["model"]["path"]) / "model.txt").read_text()
    assert text2 == (bundle / "model.txt").read_text()


def test_auto_engine_keeps_small_data_on_the_driver(spark, workspace, tmp_path: Path) -> None:
    result = run_flow(flow(tmp_path, "auto", "auto"), workspace)
    manifest = read_manifest(Path(result.nodes["gbdt"].outputs["model"]["path"]))
    assert manifest["training"] == {"engine": "driver", "validation": "hold-out"}


def test_more_machines_than_task_slots_fails_with_a_clear_message(
    spark, workspace, tmp_path: Path
) -> None:
    result = run_flow(flow(tmp_path, "spark", "many", workers=8), workspace)
    err = result.nodes["gbdt"].error
    assert result.nodes["gbdt"].status == "failed"
    assert (
        "could not train on the cluster (8 LightGBM machines)" in err and "free task slots" in err
    ), err
    json.dumps(err)
