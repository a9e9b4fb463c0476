"""Training, prediction and evaluation on real Spark, checked against the libraries they wrap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.bundle import LinearScorer, read_manifest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark

FEATURES = [
    {"kind": "bucket", "column": "age", "buckets": 8},
    {"kind": "bucket", "column": "credit_score", "buckets": 8},
    {"kind": "bucket", "column": "debt_to_income", "buckets": 8},
    {"kind": "discrete", "column": "loan_purpose"},
    {"kind": "discrete", "column": "num_delinquencies"},
    {
        "kind": "combine",
        "of": [
            {"kind": "discrete", "column": "loan_purpose"},
            {"kind": "bucket", "column": "debt_to_income", "buckets": 4},
        ],
    },
]


def model_flow(
    folder: Path, rows: int = 6000, lr: dict | None = None, gbdt: dict | None = None
) -> Path:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": rows, "seed": 3}},
        {"id": "split", "op": "split", "params": {"ratio": 0.75, "seed": 1}},
        {
            "id": "fx",
            "op": "features.extract",
            "params": {"label": "default", "features": FEATURES, "hash_bits": 16},
        },
        {
            "id": "lr",
            "op": "train.hdlr",
            "params": {"label": "default", "tune_budget": 3, **(lr or {})},
        },
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "exclude": ["customer_id", "application_date"],
                "tune_budget": 2,
                **(gbdt or {}),
            },
        },
        {"id": "score_lr", "op": "predict", "params": {}},
        {"id": "score_gbdt", "op": "predict", "params": {}},
        {"id": "eval", "op": "evaluate.binary", "params": {}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "fx.train"),
        ("fx.train", "lr.train"),
        ("split.train", "gbdt.train"),
        ("lr.model", "score_lr.model"),
        ("split.test", "score_lr.data"),
        ("gbdt.model", "score_gbdt.model"),
        ("split.test", "score_gbdt.data"),
        ("score_lr.out", "eval.scored"),
        ("score_gbdt.out", "eval.scored"),
    ]
    return write_flow(folder, nodes, links, name="models")


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("models")
    ws = Workspace(folder / "ws")
    result = run_flow(model_flow(folder), ws)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    return result, ws


def test_models_train_score_and_evaluate_side_by_side(trained) -> None:
    result, _ = trained
    metrics = result.nodes["eval"].metrics
    assert set(metrics["by_input"]) == {"score_lr", "score_gbdt"}
    for m in metrics["by_input"].values():
        assert 0.7 < m["auc"] < 0.9 and 0 < m["ks"] < 1
    scored = pq.read_table(result.nodes["score_lr"].outputs["out"]["path"]).to_pandas()
    assert {"score", "prediction", "customer_id", "default"} <= set(scored.columns)
    assert scored["prediction"].isin([0, 1]).all() and scored["score"].between(0, 1).all()


def test_evaluation_matches_scikit_learn(trained) -> None:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    result, _ = trained
    doc = json.loads(Path(result.nodes["eval"].outputs["metrics"]["path"]).read_text())
    for name in ("score_lr", "score_gbdt"):
        scored = pq.read_table(result.nodes[name].outputs["out"]["path"]).to_pandas()
        y, s = scored["default"].to_numpy(), scored["score"].to_numpy()
        report = doc["inputs"][name]
        assert report["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert report["average_precision"] == pytest.approx(
            average_precision_score(y, s), abs=1e-12
        )
        assert report["logloss"] == pytest.approx(log_loss(y, s), abs=1e-9)
        t = report["threshold"]
        assert report["confusion"]["tp"] == int(((s >= t) & (y == 1)).sum())
        charts = report["charts"]
        assert len(charts["deciles"]) == 10 and charts["deciles"][-1][
            "cumulative_gain"
        ] == pytest.approx(1.0)
        assert charts["roc"]["fpr"][0] == 0 and charts["roc"]["tpr"][-1] == pytest.approx(1.0)
        assert report["at_ks_threshold"]["threshold"] == pytest.approx(report["ks_threshold"])
    assert doc["inputs"]["score_gbdt"]["feature_importance"][0]["gain"] > 0


def test_lr_bundle_scores_raw_rows_like_spark(trained) -> None:
    result, _ = trained
    folder = Path(result.nodes["lr"].outputs["model"]["path"])
    manifest = read_manifest(folder)
    assert (
        manifest["model_type"] == "hdlr"
        and manifest["transform"]["features"][0]["fitted"]["boundaries"]
    )
    assert manifest["positive"] == 1 and 0 < manifest["threshold"] < 1
    coef = json.loads((folder / "coefficients.json").read_text())
    assert len(coef["indices"]) == manifest["nonzero_weights"] > 0  # only non-zeros are stored
    scorer = LinearScorer(folder)
    raw = {
        r["customer_id"]: r
        for r in pq.read_table(result.nodes["split"].outputs["test"]["path"]).to_pylist()
    }
    scored = pq.read_table(result.nodes["score_lr"].outputs["out"]["path"]).to_pylist()
    for row in scored[:300]:
        assert scorer.score(raw[row["customer_id"]]) == pytest.approx(row["score"], abs=1e-12)


def test_gbdt_is_deterministic_and_scores_like_lightgbm(trained, spark, tmp_path: Path) -> None:
    import lightgbm as lgb

    from engine.workspace import Workspace

    result, _ = trained
    folder = Path(result.nodes["gbdt"].outputs["model"]["path"])
    manifest = read_manifest(folder)
    trials = manifest["tuning"]
    assert trials[0]["name"].startswith("LightGBM defaults")
    assert (
        manifest["metrics"]["valid_auc"] >= trials[0]["valid_auc"]
    )  # tuning never loses to the defaults
    again = run_flow(model_flow(tmp_path), Workspace(tmp_path / "ws2"))
    other = Path(again.nodes["gbdt"].outputs["model"]["path"])
    assert (other / "model.txt").read_text() == (folder / "model.txt").read_text()

    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    cols = manifest["gbdt"]["columns"]
    scored = pq.read_table(result.nodes["score_gbdt"].outputs["out"]["path"]).to_pylist()[:200]
    from engine.gbdt_encoding.online import gbdt_row, prepare_gbdt_columns

    prepared = prepare_gbdt_columns(cols)
    x = np.array([gbdt_row(prepared, r) for r in scored])
    assert np.allclose(booster.predict(x), [r["score"] for r in scored], atol=1e-12)


def test_hdlr_driver_and_spark_paths_agree(spark, workspace, tmp_path: Path) -> None:
    aucs = {}
    for engine in ("driver", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        result = run_flow(
            model_flow(folder, rows=3000, lr={"engine": engine, "auto_tune": False, "reg": 1e-3}),
            workspace,
            to_node="lr",
        )
        assert result.status == "succeeded", result.nodes["lr"].error
        manifest = read_manifest(Path(result.nodes["lr"].outputs["model"]["path"]))
        assert manifest["params"]["engine"] == engine
        aucs[engine] = manifest["metrics"]["valid_auc"]
    assert aucs["driver"] == pytest.approx(aucs["spark"], abs=0.01)


def test_hdlr_spark_path_tunes_on_a_driver_sample(
    spark, workspace, tmp_path: Path, monkeypatch
) -> None:
    """On the Spark path the strength is searched on a sample on the driver (one MLlib fit per
    model, not one per candidate) and rescaled to the full row count."""
    import operators.hdlr as hdlr

    monkeypatch.setattr(hdlr, "TUNE_SAMPLE_ROWS", 1000)
    result = run_flow(
        model_flow(tmp_path, rows=3000, lr={"engine": "spark", "tune_budget": 4}),
        workspace,
        to_node="lr",
    )
    assert result.status == "succeeded", result.nodes["lr"].error
    manifest = read_manifest(Path(result.nodes["lr"].outputs["model"]["path"]))
    assert manifest["params"]["engine"] == "spark"
    sampled = [t for t in manifest["tuning"] if "sample_rows" in t]
    final = [t for t in manifest["tuning"] if "sample_rows" not in t]
    assert len(sampled) == 4 and len(final) == 1
    n_sample = sampled[0]["sample_rows"]
    fit_rows = 3000 * 0.75 * 0.8  # split 75%, then 20% held out, both by hash: about
    assert 0.2 < n_sample / fit_rows < 0.5
    best = max(sampled, key=lambda t: t["valid_auc"])
    assert final[0]["reg"] == pytest.approx(manifest["params"]["reg"])
    assert best["reg"] * 0.2 < manifest["params"]["reg"] < best["reg"] * 0.5
    assert manifest["metrics"]["valid_auc"] > 0.7


@pytest.mark.parametrize(
    ("rows", "params", "expected"),
    [
        ([(1, None), (2, 1), (3, 0)], {}, "has 1 missing values"),
        ([(1, 1), (2, 1), (3, 1)], {}, "holds only 1: a model needs rows of both classes"),
        ([(1, 0), (2, 1), (3, 2)], {}, "has 3 distinct values"),
        ([(1, "yes"), (2, "no")], {}, "holds 'no' and 'yes': set the 'positive' parameter"),
        (
            [(1, "yes"), (2, "no")],
            {"positive": "maybe"},
            'The \'positive\' parameter of train.gbdt (node "m") is "maybe"',
        ),
    ],
)
def test_bad_labels_are_named(spark, workspace, tmp_path: Path, rows, params, expected) -> None:
    typ = "string" if isinstance(rows[0][1], str) else "int"
    src = tmp_path / "d.parquet"
    spark.createDataFrame(rows, f"x int, y {typ}").write.parquet(str(src))
    nodes = [
        {"id": "d", "op": "import.parquet", "params": {"path": str(src)}},
        {"id": "m", "op": "train.gbdt", "params": {"label": "y", **params}},
    ]
    result = run_flow(write_flow(tmp_path, nodes, [("d.out", "m.train")]), workspace)
    assert expected in result.nodes["m"].error


def test_predict_names_missing_input_columns(trained, spark, tmp_path: Path) -> None:
    """The trained flow again, with the GBDT scoring a table that lacks most model columns."""
    _, ws = trained
    src = tmp_path / "few.parquet"
    spark.createDataFrame([(30, "car")], "age int, loan_purpose string").write.parquet(str(src))
    flow = model_flow(tmp_path)
    doc = json.loads(flow.read_text())
    doc["nodes"].append({"id": "few", "op": "import.parquet", "params": {"path": str(src)}})
    doc["links"] = [lk for lk in doc["links"] if lk["to"] != {"node": "score_gbdt", "port": "data"}]
    doc["links"].append(
        {"from": {"node": "few", "port": "out"}, "to": {"node": "score_gbdt", "port": "data"}}
    )
    flow.write_text(json.dumps(doc))
    again = run_flow(flow, ws)
    err = again.nodes["score_gbdt"].error
    assert err.startswith('predict (node "score_gbdt"): the model needs the columns')
    assert "income" in err and "Columns: age, loan_purpose." in err


def test_the_threshold_slider_counts_are_exact() -> None:
    """The studio's confusion matrix at a slider position equals a direct count."""
    from engine.metrics import binary_report, confusion
    from studio.charts import confusion_at

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 5000)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    report = json.loads(json.dumps(binary_report(y, s, 0.4137)))  # as stored
    for t in (0.0, 0.07, 0.3, 0.41, 0.5, 0.93, 1.0, 0.4137):
        shown, direct = confusion_at(report, t), confusion(y, s, t)
        assert shown["threshold"] == pytest.approx(t)
        for key in ("tp", "fp", "fn", "tn"):
            assert shown[key] == direct[key], (t, key)
        assert shown["f1"] == pytest.approx(direct["f1"])
