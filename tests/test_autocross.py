"""The features.auto search: it finds a planted interaction, only on gains that hold on both
held-out halves, falls back to the base features when crosses do not beat them, reports the
bucket boundaries of every accepted cross, and gives the same crosses for the same rows in any
order."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField

from engine.sampledata import iter_chunks
from operators.autocross import Budget, Search, base_features

from .conftest import run_flow, write_flow

PARAMS = {"max_candidates": 200, "max_crosses": 4, "max_order": 3, "min_gain": 0.0003}


def planted(n: int, seed: int, interaction: bool = True) -> tuple[pa.Table, list, np.ndarray]:
    """Two text columns whose combination drives the label (the same value in both: risky),
    a number with a main effect, and a noise column."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = rng.integers(0, 4, n)
    x = rng.normal(size=n)
    z = 0.8 * x + (1.6 * (a == b) - 0.4 if interaction else 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int8)
    table = pa.table(
        {
            "a": [f"a{v}" for v in a],
            "b": [f"b{v}" for v in b],
            "x": x,
            "noise": rng.integers(0, 8, n).astype(np.int32),
        }
    )
    columns = [
        StructField("a", StringType()),
        StructField("b", StringType()),
        StructField("x", DoubleType()),
        StructField("noise", IntegerType()),
    ]
    return table, columns, y


def search(table: pa.Table, columns: list, y: np.ndarray, **params: float) -> dict:
    draw = np.random.default_rng(1).random(len(y))
    features = base_features(table, columns, draw >= 0.3)
    params = {**PARAMS, "time_limit": 60, **params}
    return Search(features, y, draw, params, lambda _: None).run(time.time())


def test_the_planted_cross_is_found_on_both_halves_and_the_search_is_repeatable() -> None:
    table, columns, y = planted(6000, 0)
    result = search(table, columns, y)
    crosses = [a["cross"] for a in result["accepted"]]
    assert crosses and crosses[0] == "discrete(a) x discrete(b)", crosses
    first = result["accepted"][0]
    assert all(g > 0 for g in first["gain_halves"]) and first["gain"] > 0.01
    assert result["final_auc"] > result["base_auc"] and result["fallback"] is None
    assert result["evaluations"] <= 200
    # the same rows give the same search, step for step
    again = search(table, columns, y)
    assert again["config"] == result["config"] and again["accepted"] == result["accepted"]


def test_noise_is_not_accepted_and_crosses_that_lose_fall_back() -> None:
    table, columns, y = planted(3000, 2, interaction=False)
    rng = np.random.default_rng(3)
    table = table.append_column("ticket", pa.array([f"t{v}" for v in rng.integers(0, 300, 3000)]))
    columns = [*columns, StructField("ticket", StringType())]
    result = search(table, columns, y)
    # without an interaction nothing gains on both halves: the base features alone
    assert result["accepted"] == [] and result["fallback"] is None
    assert result["final_auc"] == result["base_auc"]
    # a cross that only fits noise (300 tickets x 8 noise values), pushed past the guards: the
    # final check refits the model with it, finds it no better on held-out rows, and falls back
    draw = np.random.default_rng(1).random(len(y))
    features = base_features(table, columns, draw >= 0.3)
    s = Search(features, y, draw, {**PARAMS, "time_limit": 60}, lambda _: None)
    blocks = [f.codes for f in features]
    w, margin = s._fit_lr(blocks)
    base = s._aucs(margin)
    members = tuple(i for i, f in enumerate(features) if f.column in ("noise", "ticket"))
    codes = s._codes(members)
    forced = {"members": members, "cross": s._label(members), "gain": 0.0}
    result = s._finish(
        [*blocks, codes],
        np.concatenate([w, np.zeros(int(codes.max()) + 1)]),
        base,
        base,
        [forced],
        Budget(200, 60, time.time()),
        1.0,
        time.time(),
    )
    assert result["accepted"] == [] and "did not beat the base model" in result["fallback"]
    assert not any(f["kind"] == "combine" for f in result["config"])
    assert result["final_auc"] == result["base_auc"]


def test_too_few_held_out_rows_search_nothing_and_say_why() -> None:
    table, columns, y = planted(800, 4)  # halves of about 120 rows: noise would pass as gain
    result = search(table, columns, y)
    assert result["accepted"] == [] and result["evaluations"] == 0
    assert "too few held-out rows to tell a cross from noise" in result["stopped"]
    assert not any(f["kind"] == "combine" for f in result["config"])


def _write_loans(folder: Path, rows: int) -> tuple[Path, Path]:
    table = pa.concat_tables(iter_chunks("credit_risk", rows, 4))
    ordered = folder / "ordered.parquet"
    pq.write_table(table, ordered)
    shuffled = folder / "shuffled"
    shuffled.mkdir()
    perm = np.random.default_rng(5).permutation(rows)
    for i, part in enumerate(np.array_split(perm, 3)):
        pq.write_table(table.take(pa.array(part)), shuffled / f"part-{i}.parquet")
    return ordered, shuffled


@pytest.mark.spark
def test_same_rows_in_any_order_give_the_same_crosses_with_their_boundaries(
    spark, workspace, tmp_path: Path
) -> None:
    ordered, shuffled = _write_loans(tmp_path, 20000)
    params = {
        "label": "default",
        "exclude": ["customer_id", "application_date"],
        "max_candidates": 160,
        "hash_bits": 16,
    }
    nodes = [
        {"id": "one", "op": "import.parquet", "params": {"path": str(ordered)}},
        {"id": "three", "op": "import.parquet", "params": {"path": str(shuffled)}},
        {"id": "auto_one", "op": "features.auto", "params": params},
        {"id": "auto_three", "op": "features.auto", "params": params},
    ]
    links = [("one.out", "auto_one.train"), ("three.out", "auto_three.train")]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace)
    assert result.status == "succeeded", {k: n.error for k, n in result.nodes.items()}

    def report(node: str) -> dict:
        return json.loads(Path(result.nodes[node].outputs["report"]["path"]).read_text())

    one, three = report("auto_one"), report("auto_three")
    assert one["features"] == three["features"] and one["accepted"] == three["accepted"]
    assert one["accepted"], one
    for cross in one["accepted"]:
        assert min(cross["gain_halves"]) > 0
        for member in cross["members"]:
            if member["kind"] == "bucket":
                bounds = member["boundaries"]
                assert bounds and bounds == sorted(bounds), member
    metrics = result.nodes["auto_one"].metrics
    assert metrics["crosses"] == len(one["accepted"]) and metrics["fell_back"] is False
    assert 0 < metrics["search_cost_in_lr_fits"] == one["search_cost_in_lr_fits"]


def test_the_studio_shows_the_accepted_crosses_as_a_chart(tmp_path: Path) -> None:
    from dash import dcc

    from studio.components.results import report_view

    report = {
        "base_auc": 0.91,
        "final_auc": 0.92,
        "evaluations": 50,
        "stopped": "no candidate gained enough on both halves",
        "accepted": [
            {
                "cross": "discrete(job) x bucket(age, 10)",
                "gain": 0.004,
                "gain_halves": [0.003, 0.005],
                "members": [
                    {"column": "job", "kind": "discrete", "values": 7},
                    {"column": "age", "kind": "bucket", "boundaries": [25.0, 40.0, 61.5]},
                ],
            }
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    view = json.dumps(report_view({"path": str(path)}).to_plotly_json(), default=str)
    assert "discrete(job) x bucket(age, 10)" in view and "age: 25, 40, 61.5" in view
    graphs = [c for c in report_view({"path": str(path)}).children if isinstance(c, dcc.Graph)]
    (bars_a, bars_b) = graphs[0].figure.data
    assert list(bars_a.x) == [0.003] and list(bars_b.x) == [0.005]
    # a report without crosses is shown as text
    path.write_text(json.dumps({**report, "accepted": []}))
    assert not isinstance(report_view({"path": str(path)}), type(graphs[0]))
    assert "Pre" in type(report_view({"path": str(path)})).__name__
