"""train.scorecard: WOE -> logistic regression -> points; the same points offline and online,
and reason codes that name the attributes costing the most points."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from operators.scorecard_points import attribute_points, points_of_margin, scaling

from .conftest import run_flow, write_flow
from .test_serving import as_request, start_service


def test_points_arithmetic_matches_a_hand_computation() -> None:
    # 600 points at 50:1, 20 points to double the odds
    factor, offset = scaling(20, 600, 50)
    assert factor == pytest.approx(28.8539008)  # 20 / ln 2
    assert offset == pytest.approx(600 - 28.8539008 * 3.91202301)  # 487.1228
    assert offset == pytest.approx(487.1228, abs=1e-4)
    # odds of 50:1 (p(bad) = 1/51) score 600; 100:1 score 620; 25:1 score 580
    for odds, points in ((50, 600), (100, 620), (25, 580)):
        assert points_of_margin(math.log(1 / odds), factor, offset) == pytest.approx(points)
    # two variables, intercept -1.2, coefficients -0.8 and -0.5: the attribute points sum
    # to the row's points; by hand: -(-0.8 x 0.4 + -0.6) x 28.8539 + 243.5614 = 270.1070
    a = attribute_points(-0.8, 0.4, -1.2, 2, factor, offset)
    assert a == pytest.approx(270.1070, abs=1e-4)
    b = attribute_points(-0.5, -0.3, -1.2, 2, factor, offset)
    assert b == pytest.approx(-(0.15 - 0.6) * 28.8539008 + 243.5614, abs=1e-4)
    margin = -1.2 + (-0.8 * 0.4) + (-0.5 * -0.3)
    assert a + b == pytest.approx(points_of_margin(margin, factor, offset))


@pytest.fixture(scope="module")
def card_run(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("scorecard")
    ws = Workspace(folder / "ws")
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 6000, "seed": 8}},
        {"id": "split", "op": "split", "params": {"ratio": 0.7, "seed": 3}},
        {
            "id": "woe",
            "op": "features.woe",
            "params": {"label": "default", "exclude": ["customer_id", "application_date"]},
        },
        {"id": "card", "op": "train.scorecard", "params": {"label": "default"}},
        {"id": "score", "op": "predict", "params": {}},
        {"id": "eval", "op": "evaluate.binary", "params": {}},
        {"id": "pub", "op": "publish", "params": {"name": "card"}},
        {"id": "score_dev", "op": "predict", "params": {}},
        {
            "id": "report",
            "op": "report.model",
            "params": {"purpose": "Approve or decline loan applications.", "path": "${out}"},
        },
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "woe.train"),
        ("woe.train", "card.train"),
        ("card.model", "score.model"),
        ("split.test", "score.data"),
        ("score.out", "eval.scored"),
        ("card.model", "pub.model"),
        ("card.model", "score_dev.model"),
        ("split.train", "score_dev.data"),
        ("card.model", "report.model"),
        ("score_dev.out", "report.scored"),
        ("score.out", "report.scored"),
    ]
    out = str(folder / "docs" / "model.html")
    flow = write_flow(folder, nodes, links, name="card", params={"out": out})
    result = run_flow(flow, ws)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    result.html_path = out
    return result, ws


@pytest.mark.spark
def test_the_scorecard_bundle_carries_a_points_table(card_run) -> None:
    result, _ = card_run
    folder = Path(result.nodes["card"].outputs["model"]["path"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_type"] == "scorecard"
    card = manifest["scorecard"]
    assert 1 <= len(card["variables"]) <= 10
    assert all(v["coefficient"] < 0 for v in card["variables"])  # more WOE, less risk
    assert {c["name"] for c in manifest["input_schema"]} == {
        v["column"] for v in card["variables"]
    } | {"default"}
    rows = list(csv.DictReader(io.StringIO((folder / "points.csv").read_text())))
    assert len(rows) == len(card["points"])
    assert {r["variable"] for r in rows} == {v["column"] for v in card["variables"]}
    # each attribute's points from the manifest's numbers, by hand
    n = len(card["variables"])
    for r in card["points"]:
        hand = -(r["coefficient"] * r["woe"] + card["intercept"] / n) * card["factor"]
        assert r["points"] == pytest.approx(hand + card["offset"] / n)
    metrics = result.nodes["eval"].metrics
    assert metrics["auc"] > 0.7, metrics
    assert result.nodes["card"].metrics["valid_auc"] > 0.7


@pytest.mark.spark
@pytest.mark.slow
def test_online_points_equal_offline_and_reasons_name_the_costliest_attributes(card_run) -> None:
    result, ws = card_run
    offline = pq.read_table(result.nodes["score"].outputs["out"]["path"]).to_pylist()
    folder = Path(result.nodes["card"].outputs["model"]["path"])
    card = json.loads((folder / "manifest.json").read_text())["scorecard"]
    # offline: points = offset - factor x log-odds of the score
    for r in offline[:50]:
        logit = math.log(r["score"] / (1 - r["score"]))
        assert r["points"] == pytest.approx(card["offset"] - card["factor"] * logit, abs=1e-6)
    proc, url = start_service(ws.root)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(0, len(offline), 500):
                chunk = offline[i : i + 500]
                body = client.post(
                    "/v1/models/card:predict",
                    json={"instances": [as_request(r) for r in chunk]},
                ).json()
                for r, p in zip(chunk, body["predictions"], strict=True):
                    assert p["points"] == r["points"]  # identical, not only close
                    assert p["score"] == pytest.approx(r["score"], abs=1e-12)
            # the same points over the Open Inference Protocol v2 and MLflow's protocol
            sample = [as_request(r) for r in offline[:40]]
            sample = [r for r in sample if all(v is not None for v in r.values())]
            meta = client.get("/v2/models/card").json()
            assert {"name": "points", "datatype": "FP64", "shape": [-1]} in meta["outputs"]
            inputs = [
                {
                    "name": i["name"],
                    "datatype": i["datatype"],
                    "shape": [len(sample)],
                    "data": [r[i["name"]] for r in sample],
                }
                for i in meta["inputs"]
            ]
            v2 = client.post("/v2/models/card/infer", json={"inputs": inputs}).json()
            tensors = {o["name"]: o["data"] for o in v2["outputs"]}
            v1 = client.post("/v1/models/card:predict", json={"instances": sample}).json()
            assert tensors["points"] == [p["points"] for p in v1["predictions"]]
            mlflow = client.post(
                "/invocations",
                json={"dataframe_records": sample},
                headers={"X-Seer-Model": "card"},
            ).json()
            assert [p["points"] for p in mlflow["predictions"]] == tensors["points"]
            worst = min(offline, key=lambda r: r["points"])
            one = client.post(
                "/v1/models/card:predict?explain=true", json={"instances": [as_request(worst)]}
            ).json()["predictions"][0]
    finally:
        proc.terminate()
        proc.wait(10)
    reasons = one["reasons"]
    assert reasons and reasons[0]["points_lost"] >= reasons[-1]["points_lost"] > -1e-9
    assert reasons[0]["points_lost"] > 5
    first = reasons[0]
    assert first["text"].startswith(f"{first['feature']} = ")
    assert "points below the best" in first["text"]
    numeric = [r for r in reasons if isinstance(r["value"], float)]
    assert any("% of applicants" in r["text"] for r in numeric), reasons


@pytest.mark.spark
def test_the_model_report_documents_the_scorecard(card_run) -> None:
    result, _ = card_run
    node = result.nodes["report"]
    assert node.seconds <= 10, node.seconds
    report = json.loads(Path(node.outputs["report"]["path"]).read_text())
    page = report["html"]
    assert Path(result.html_path).read_text(encoding="utf-8") == page  # the 'path' file
    for section in (
        "Purpose and data",
        "Variables",
        "The model",
        "Performance",
        "Stability",
        "Limitations",
        "Lineage",
        "Points table",
        "Approve or decline loan",
    ):
        assert section in page, section
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    perf = report["figures"]["performance"]
    assert set(perf) == {"score_dev", "score"}
    assert perf["score"]["auc"] == pytest.approx(result.nodes["eval"].metrics["auc"])
    assert perf["score"]["gini"] == pytest.approx(2 * perf["score"]["auc"] - 1)
    assert f"{perf['score']['auc']:.4f}" in page
    # the same generator on both samples: stable
    assert report["figures"]["score_psi"]["score"] < 0.1
    card = json.loads(
        (Path(result.nodes["card"].outputs["model"]["path"]) / "manifest.json").read_text()
    )["scorecard"]
    for v in card["variables"]:
        assert f"{v['column']} (IV " in page
