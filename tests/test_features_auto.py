"""features.auto finds the interactions planted in the generated credit-risk data, within budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark


def auto_flow(folder: Path, test_seed: int = 9, **params) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        {"id": "train", "op": "import.sample", "params": {"rows": 20000, "seed": 4}},
        {"id": "test", "op": "import.sample", "params": {"rows": 3000, "seed": test_seed}},
        {
            "id": "auto",
            "op": "features.auto",
            "params": {
                "label": "default",
                "exclude": ["customer_id", "application_date"],
                "max_candidates": 80,
                "hash_bits": 18,
                **params,
            },
        },
    ]
    return write_flow(folder, nodes, [("train.out", "auto.train"), ("test.out", "auto.test")])


def report_of(result) -> dict:
    return json.loads(Path(result.nodes["auto"].outputs["report"]["path"]).read_text())


def test_auto_features_find_planted_crosses_deterministically(
    spark, workspace, tmp_path: Path
) -> None:
    first = run_flow(auto_flow(tmp_path / "a"), workspace)
    assert first.status == "succeeded", first.nodes["auto"].error
    report = report_of(first)
    crosses = [a["cross"] for a in report["accepted"]]
    assert crosses, report
    # the generator's label has these interactions (engine/sampledata.py)
    planted = [
        ("loan_purpose", "debt_to_income"),
        ("age", "home_ownership"),
        ("term_months", "credit_score"),
        ("channel", "region"),
        ("home_ownership", "employment_years"),
    ]
    assert any(a in c and b in c for c in crosses for a, b in planted), crosses
    assert report["final_auc"] > report["base_auc"]
    assert report["evaluations"] <= 80 and report["stopped"]
    assert all(a["gain"] > 0 for a in report["accepted"])
    # the configuration is an ordinary one, and the same data gives the same features
    again = run_flow(
        auto_flow(tmp_path / "b", test_seed=11), workspace
    )  # other test rows: never used to choose
    assert report_of(again)["features"] == report["features"]
    assert first.nodes["auto"].rows["train"] == 20000 and first.nodes["auto"].rows["test"] == 3000


def test_the_budget_is_counted_in_evaluations(spark, workspace, tmp_path: Path) -> None:
    result = run_flow(auto_flow(tmp_path, max_candidates=5), workspace)
    report = report_of(result)
    assert report["evaluations"] == 5
    assert (
        report["stopped"] == "the budget of 5 evaluations was spent" or len(report["accepted"]) <= 1
    )
