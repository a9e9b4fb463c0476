"""features.woe: optimal bins with WOE and IV, applied identically by Spark and online scoring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.features.online import compile_transform
from engine.features.spark import INDEX_COL, VALUE_COL
from operators.woe_binning import iv_strength

from .conftest import run_op

pytestmark = pytest.mark.spark
N = 4000


def credit_table(seed: int = 5) -> pa.Table:
    """Risk falls with income, rises with debt; a special value and missing values."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10.5, 0.5, N), 2)
    dti = np.round(rng.beta(2, 5, N), 4)
    purpose = rng.choice(np.array(["car", "house", "tv", "education", "Ünïcödé"]), N)
    months = rng.integers(0, 240, N).astype(float)
    months[rng.random(N) < 0.1] = -1  # special: "never employed"
    logit = -1.2 - 0.9 * np.log(income / 36000) + 3.0 * (dti - 0.3) + 0.6 * (purpose == "tv")
    logit += 0.5 * (months == -1)
    grade = rng.integers(1, 6, N).astype(np.int32)  # a code: risk peaks at 3
    logit += np.array([0, -0.6, 0.2, 0.9, 0.1, -0.7])[grade]
    y = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    noise = rng.normal(size=N)
    return pa.table(
        {
            "income": pa.array(income, mask=rng.random(N) < 0.05),
            "dti": pa.array(np.where(rng.random(N) < 0.01, -0.0, dti)),
            "purpose": pa.array(purpose, mask=rng.random(N) < 0.03),
            "months_employed": pa.array(months),
            "flag": pa.array(rng.random(N) < 0.3),
            "noise": pa.array(noise),
            "grade": pa.array(grade, mask=rng.random(N) < 0.02),
            "bad": pa.array(y),
        }
    )


@pytest.fixture(scope="module")
def woe_run(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("woe")
    path = folder / "rows.parquet"
    pq.write_table(credit_table(), path)
    df = spark.read.parquet(str(path))
    params = {
        "label": "bad",
        "min_bin_share": 0.05,
        "special_values": {"months_employed": [-1]},
        "column_trends": {"dti": "ascending"},
        "bin_edits": [{"column": "flag", "groups": [["true"], ["false"]]}],
        "as_categories": ["grade"],
    }
    result = run_op(
        Workspace(folder / "ws"), folder / "flow", "features.woe", params, {"train": df}
    )
    assert result.status == "succeeded", result.node.error
    return result, df, path


def _transform(result) -> dict:
    folder = Path(result.node.outputs["transform"]["path"])
    return json.loads((folder / "transform.json").read_text())


def test_bins_are_monotonic_with_woe_and_iv_per_column(woe_run) -> None:
    result, _, _ = woe_run
    report = json.loads(Path(result.node.outputs["report"]["path"]).read_text())
    cols = {c["column"]: c for c in report["columns"]}
    assert set(cols) == {"income", "dti", "purpose", "months_employed", "flag", "noise", "grade"}
    # a code binned as categories: its bins are groups of codes, not ranges
    assert all(
        b["bin"][0] == "{" for b in cols["grade"]["bins"] if b["bin"] not in ("Missing", "Other")
    )
    # strongest first; the usual reading of IV
    ivs = [c["iv"] for c in report["columns"]]
    assert ivs == sorted(ivs, reverse=True)
    assert cols["noise"]["strength"] == "useless" and cols["dti"]["strength"] in (
        "medium",
        "strong",
    )
    for name in ("income", "dti"):
        rates = [b["event_rate"] for b in cols[name]["bins"] if b["bin"][0] == "[" and b["count"]]
        assert len(rates) >= 3
        steps = np.diff(rates)
        assert (steps >= 0).all() or (steps <= 0).all(), (name, rates)
    assert cols["dti"]["trend"] == "ascending"
    assert cols["income"]["trend"] == "descending"
    # every regular bin holds at least the minimum share of rows
    for c in report["columns"]:
        regular = [b for b in c["bins"] if b["bin"] not in ("Missing", "Special", "Other")]
        assert all(b["share"] >= 0.05 - 1e-9 for b in regular if c["bins_from"] == "optimal")
    # missing and special values have their own bins, with their own WOE
    income_missing = next(b for b in cols["income"]["bins"] if b["bin"] == "Missing")
    assert 150 < income_missing["count"] < 260
    special = next(b for b in cols["months_employed"]["bins"] if b["bin"] == "Special")
    assert special["count"] == sum(
        1 for v in credit_table()["months_employed"].to_pylist() if v == -1
    )
    assert special["woe"] < 0  # more events than on average: negative WOE
    # WOE and IV of a bin by hand
    b = cols["dti"]["bins"][0]
    events, non = report_totals(cols["dti"]["bins"])
    woe = math.log(((b["count"] - b["events"]) / non) / (b["events"] / events))
    assert b["woe"] == pytest.approx(woe)
    assert b["iv"] == pytest.approx(((b["count"] - b["events"]) / non - b["events"] / events) * woe)
    assert cols["dti"]["iv"] == pytest.approx(sum(x["iv"] for x in cols["dti"]["bins"]))
    # the manual edit is applied as given
    assert cols["flag"]["bins_from"] == "manual"
    assert [x["bin"] for x in cols["flag"]["bins"][:2]] == ["{true}", "{false}"]


def report_totals(bins: list[dict]) -> tuple[int, int]:
    events = sum(b["events"] for b in bins)
    return events, sum(b["count"] for b in bins) - events


def test_iv_reading() -> None:
    assert [iv_strength(v) for v in (0.0, 0.019, 0.02, 0.099, 0.1, 0.29, 0.3, 2.0)] == [
        "useless", "useless", "weak", "weak", "medium", "medium", "strong", "strong"
    ]  # fmt: skip


def test_spark_and_online_woe_values_are_identical(woe_run, spark, tmp_path) -> None:
    result, _, _ = woe_run
    fitted = _transform(result)
    assert all(f["kind"] == "woe" for f in fitted["features"])
    # rows the bins never saw: unseen categories, boundaries, extremes, -0.0, NaN, null
    splits = fitted["features"][0]["fitted"]["splits"]
    rng = np.random.default_rng(9)
    n = 3000
    edge = np.array([*splits, -0.0, 0.0, math.nan, math.inf, -math.inf, 1e300, -1.0])
    income = np.where(rng.random(n) < 0.4, rng.choice(edge, n), rng.lognormal(10.5, 0.6, n))
    words = np.array(["car", "tv", "boat", "", "Ünïcödé", "日本語"])
    table = pa.table(
        {
            "income": pa.array(income, mask=rng.random(n) < 0.05),
            "dti": pa.array(
                rng.choice(np.array([*fitted["features"][1]["fitted"]["splits"], 0.5, -0.0]), n)
            ),
            "purpose": pa.array(rng.choice(words, n), mask=rng.random(n) < 0.05),
            "months_employed": pa.array(
                rng.choice(np.array([-1.0, 0.0, 12.0, 500.0, math.nan]), n)
            ),
            "flag": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.05),
            "noise": pa.array(rng.normal(size=n)),
            "grade": pa.array(rng.integers(0, 8, n).astype(np.int32), mask=rng.random(n) < 0.05),
            "bad": pa.array(rng.integers(0, 2, n).astype(np.int32)),
        }
    )
    path = tmp_path / "edge.parquet"
    pq.write_table(table, path)
    from engine.features.spark import apply_transform

    spark_rows = apply_transform(spark.read.parquet(str(path)), fitted).toArrow().to_pylist()
    online = compile_transform(fitted)
    mismatches = []
    for sr, row in zip(spark_rows, table.to_pylist(), strict=True):
        idx, val = online(row)
        if sr[INDEX_COL] != idx or sr[VALUE_COL] != val:
            mismatches.append((row, sr[VALUE_COL], val))
    assert not mismatches, mismatches[:3]
    # an unseen category gets the neutral WOE 0
    purpose = next(f for f in fitted["features"] if f["column"] == "purpose")
    assert dict(online.tokens({**table.to_pylist()[0], "purpose": "boat"}))["purpose"] == 0.0
    assert purpose["fitted"]["woe_other"] == 0.0
