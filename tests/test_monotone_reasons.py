"""train.gbdt with monotone constraints, and reason codes in plain words for LR and GBDT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.serving.scoring import LoadedModel

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def models(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("monotone")
    ws = Workspace(folder / "ws")
    common = {"label": "default", "exclude": ["customer_id", "application_date"]}
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 5000, "seed": 4}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                **common,
                "auto_tune": False,
                "monotone": {"debt_to_income": "increasing", "credit_score": "decreasing"},
            },
        },
        {"id": "lr", "op": "train.hdlr", "params": {**common, "tune_budget": 2}},
    ]
    links = [("gen.out", "gbdt.train"), ("gen.out", "lr.train")]
    result = run_flow(write_flow(folder, nodes, links, name="mono"), ws)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    rows = _rows(folder)
    return {
        n: LoadedModel(n, 1, Path(result.nodes[n].outputs["model"]["path"])) for n in ("gbdt", "lr")
    }, rows


def _rows(folder: Path) -> list[dict]:
    from engine.sampledata import generate_to_parquet

    path = folder / "rows.parquet"
    generate_to_parquet("credit_risk", 60, 99, path)
    import pyarrow.parquet as pq

    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in pq.read_table(path).to_pylist()
    ]


def test_gbdt_scores_follow_the_monotone_constraints(models) -> None:
    loaded, rows = models
    gbdt = loaded["gbdt"]
    grid_dti = np.linspace(0, 1.5, 40)
    grid_score = np.linspace(300, 850, 40)
    for row in rows:
        up = gbdt.scores([{**row, "debt_to_income": float(v)} for v in grid_dti])
        assert all(b >= a for a, b in zip(up, up[1:], strict=False)), up
        down = gbdt.scores([{**row, "credit_score": int(v)} for v in grid_score])
        assert all(b <= a for a, b in zip(down, down[1:], strict=False)), (row, down)
    # the constraint does bite: the score moves with debt
    assert np.mean([gbdt.scores([{**r, "debt_to_income": 1.4}])[0] for r in rows]) > np.mean(
        [gbdt.scores([{**r, "debt_to_income": 0.05}])[0] for r in rows]
    )


def test_every_model_kind_explains_in_plain_words(models) -> None:
    loaded, rows = models
    row = {**rows[0], "debt_to_income": 1.2}
    for kind in ("gbdt", "lr"):
        reasons = loaded[kind].explain_rows([row], top=20)[0]
        assert reasons, kind
        contributions = [abs(r["contribution"]) for r in reasons]
        assert contributions == sorted(contributions, reverse=True)
        dti = next(r for r in reasons if r["feature"].startswith("debt_to_income"))
        # 1.2 is beyond nearly every applicant's debt-to-income ratio
        assert dti["text"].startswith("debt_to_income = 1.2 (higher than 9"), dti
        assert dti["text"].endswith("raises the score"), dti
        assert dti["contribution"] > 0
