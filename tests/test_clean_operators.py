"""Cleaning and join operators on real Spark: results checked value by value."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from engine.flow import FlowError, load_flow, prepare_flow

from .conftest import run_op, write_flow

pytestmark = pytest.mark.spark


@pytest.fixture()
def people(spark):
    rows = [
        (1, "ana", 30.0, "x", "2024-01-05"),
        (2, "bo", None, "y", "2024-02-01"),
        (3, "cy", 50.0, None, "2023-12-31"),
        (4, "di", 10.0, "y", None),
        (5, "ed", None, "y", "2024-03-01"),
    ]
    return spark.createDataFrame(rows, "id int, name string, income double, grp string, day string")


def test_fill_missing_by_strategy_and_per_column(spark, workspace, tmp_path: Path, people) -> None:
    r = run_op(
        workspace,
        tmp_path,
        "clean.fill_missing",
        {"columns": ["income", "grp"], "strategy": "mean"},
        {"in": people},
    )
    df = r.frames["out"].set_index("id")
    assert df.loc[2, "income"] == pytest.approx(30.0) and df.loc[5, "income"] == pytest.approx(30.0)
    assert df.loc[3, "grp"] == "y"  # a string column under "mean" takes its most frequent value
    assert df["day"].isna().sum() == 1  # not in the list: untouched

    r = run_op(
        workspace,
        tmp_path / "b",
        "clean.fill_missing",
        {
            "columns": ["income"],
            "strategy": "median",
            "per_column": {"grp": "constant:unknown", "day": "constant:2024-01-01"},
        },
        {"in": people},
    )
    df = r.frames["out"].set_index("id")
    assert (
        df.loc[2, "income"] == 30.0
        and df.loc[3, "grp"] == "unknown"
        and df.loc[4, "day"] == "2024-01-01"
    )


def test_fill_missing_rejects_a_constant_of_the_wrong_type(
    spark, workspace, tmp_path: Path, people
) -> None:
    r = run_op(
        workspace,
        tmp_path,
        "clean.fill_missing",
        {"columns": ["income"], "strategy": "constant", "value": "lots"},
        {"in": people},
    )
    assert (
        'The constant "lots" of clean.fill_missing (node "node") cannot be read as double'
        in r.node.error
    )


def test_filter_keeps_true_rows_and_explains_bad_conditions(
    spark, workspace, tmp_path: Path, people
) -> None:
    r = run_op(workspace, tmp_path, "clean.filter", {"condition": "income > 20"}, {"in": people})
    assert sorted(r.frames["out"]["id"]) == [1, 3]
    # a struct field is not guessed at validation: Spark finds it missing when the node runs
    r = run_op(
        workspace, tmp_path / "b", "clean.filter", {"condition": "grp.size > 2"}, {"in": people}
    )
    assert r.node.error.startswith('The condition of clean.filter (node "node") cannot be used:')
    assert "Columns: id, name, income, grp, day." in r.node.error
    # a misspelled column is found when the flow is validated
    from engine.flow import FlowError

    with pytest.raises(FlowError) as exc:
        run_op(
            workspace, tmp_path / "c", "clean.filter", {"condition": "incme > 2"}, {"in": people}
        )
    assert (
        "uses the column `incme`, which does not exist in its input (did you mean `income`?)"
        in (str(exc.value))
    )
    # not even SQL: refused when the flow is validated
    from engine.flow import validate_params
    from engine.registry import load_registry

    op = load_registry().get("clean.filter")
    (message,) = validate_params(op, {"condition": "income >>> > 2"}, "f")
    assert message.startswith(
        "The 'condition' parameter of clean.filter (node \"f\") cannot be used: it is not valid SQL"
    )


def test_select_keep_drop_rename(spark, workspace, tmp_path: Path, people) -> None:
    r = run_op(
        workspace,
        tmp_path,
        "clean.select",
        {"keep": ["name", "id"], "rename": {"name": "who"}},
        {"in": people},
    )
    assert list(r.frames["out"].columns) == ["who", "id"]
    r = run_op(workspace, tmp_path / "b", "clean.select", {"drop": ["day", "grp"]}, {"in": people})
    assert list(r.frames["out"].columns) == ["id", "name", "income"]
    # the schema was known without running: the stored schema matches infer_schema's
    assert [c["name"] for c in r.node.outputs["out"]["schema"]] == ["id", "name", "income"]


def test_cast_converts_or_nulls_or_fails(spark, workspace, tmp_path: Path, people) -> None:
    r = run_op(
        workspace,
        tmp_path,
        "clean.cast",
        {"columns": {"day": "date", "name": "int"}},
        {"in": people},
    )
    df = r.frames["out"].set_index("id")
    assert str(df.loc[1, "day"]) == "2024-01-05" and df["name"].isna().all()
    types = {c["name"]: c["type"] for c in r.node.outputs["out"]["schema"]}
    assert types["day"] == "date" and types["name"] == "int"
    r = run_op(
        workspace,
        tmp_path / "b",
        "clean.cast",
        {"columns": {"name": "int"}, "on_error": "fail"},
        {"in": people},
    )
    assert r.node.status == "failed"
    # the first bad value Spark meets: which one depends on which task fails first
    assert re.search(r'cannot convert "(ana|bo|cy|di|ed)" in column "name" to int', r.node.error)


def test_dedupe_keeps_the_last_row_per_key_deterministically(
    spark, workspace, tmp_path: Path
) -> None:
    rows = [(1, "a", 1), (1, "b", 3), (1, "c", 2), (2, "d", 1), (2, "d", 1)]
    df = spark.createDataFrame(rows, "k int, v string, t int")
    r1 = run_op(
        workspace,
        tmp_path,
        "clean.dedupe",
        {"columns": ["k"], "order_by": "t", "keep": "last"},
        {"in": df.repartition(3)},
    )
    assert sorted(r1.frames["out"]["v"]) == ["b", "d"]
    r2 = run_op(
        workspace, tmp_path / "b", "clean.dedupe", {"columns": ["k"]}, {"in": df.repartition(1)}
    )
    r3 = run_op(
        workspace, tmp_path / "c", "clean.dedupe", {"columns": ["k"]}, {"in": df.repartition(4)}
    )
    assert sorted(r2.frames["out"]["v"]) == sorted(r3.frames["out"]["v"])
    r4 = run_op(workspace, tmp_path / "d", "clean.dedupe", {}, {"in": df})
    assert len(r4.frames["out"]) == 4


def test_sample_by_fraction_and_by_rows_is_seeded(spark, workspace, tmp_path: Path) -> None:
    df = spark.range(0, 10000).selectExpr("id", "id % 3 AS g")
    a = run_op(
        workspace,
        tmp_path / "a",
        "clean.sample",
        {"fraction": 0.2, "seed": 1},
        {"in": df.repartition(2)},
    )
    b = run_op(
        workspace,
        tmp_path / "b",
        "clean.sample",
        {"fraction": 0.2, "seed": 1},
        {"in": df.repartition(5)},
    )
    assert set(a.frames["out"]["id"]) == set(b.frames["out"]["id"])
    assert abs(len(a.frames["out"]) - 2000) < 150
    n = run_op(workspace, tmp_path / "c", "clean.sample", {"by": "rows", "rows": 123}, {"in": df})
    assert len(n.frames["out"]) == 123 and n.frames["out"]["id"].is_unique


def test_join_on_shared_and_paired_keys(spark, workspace, tmp_path: Path) -> None:
    left = spark.createDataFrame(
        [(1, "ana", 5), (2, "bo", 6), (3, "cy", 7)], "id int, name string, score int"
    )
    right = spark.createDataFrame(
        [(1, 100, 9), (3, 300, 8), (4, 400, 7)], "id int, amount int, score int"
    )
    r = run_op(
        workspace,
        tmp_path,
        "transform.join",
        {"on": ["id"], "how": "left"},
        {"left": left, "right": right},
    )
    df = r.frames["out"].sort_values("id")
    assert list(df.columns) == ["id", "name", "score", "amount", "score_right"]
    assert df["amount"].tolist()[0] == 100 and math.isnan(df["amount"].tolist()[1])
    r = run_op(
        workspace,
        tmp_path / "b",
        "transform.join",
        {"on": ["id"], "how": "full"},
        {"left": left, "right": right},
    )
    assert sorted(r.frames["out"]["id"]) == [1, 2, 3, 4]  # keys merged from both sides
    renamed = right.withColumnRenamed("id", "customer")
    r = run_op(
        workspace,
        tmp_path / "c",
        "transform.join",
        {"left_on": ["id"], "right_on": ["customer"], "how": "anti"},
        {"left": left, "right": renamed},
    )
    assert r.frames["out"]["name"].tolist() == ["bo"]
    bad = right.selectExpr("CAST(id AS STRING) AS id", "amount")
    r = run_op(
        workspace, tmp_path / "d", "transform.join", {"on": ["id"]}, {"left": left, "right": bad}
    )
    assert "key columns must have the same type" in r.node.error


def test_split_out_of_time_by_column_and_threshold(
    spark, workspace, tmp_path: Path, people
) -> None:
    df = people.selectExpr("id", "CAST(day AS DATE) AS day")
    r = run_op(
        workspace,
        tmp_path,
        "split",
        {"mode": "rule", "rule_column": "day", "threshold": "2024-02-01"},
        {"in": df},
    )
    assert sorted(r.frames["train"]["id"]) == [1, 3] and sorted(r.frames["test"]["id"]) == [2, 4, 5]
    r = run_op(
        workspace,
        tmp_path / "b",
        "split",
        {"mode": "rule", "rule_column": "day", "threshold": "soon"},
        {"in": df},
    )
    assert 'The threshold "soon" of split (node "node") cannot be read as date' in r.node.error


def test_unknown_columns_are_caught_at_validation_from_inferred_schemas(tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 10}},
        {
            "id": "sel",
            "op": "clean.select",
            "params": {"keep": ["age", "incme"], "rename": {"age": "years"}},
        },
        {"id": "split", "op": "split", "params": {"stratify": "age"}},
        {"id": "fill", "op": "clean.fill_missing", "params": {"per_column": {"regoin": "mode"}}},
    ]
    links = [("gen.out", "sel.in"), ("sel.out", "split.in"), ("gen.out", "fill.in")]
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(write_flow(tmp_path, nodes, links)))
    msgs = {(p.node, p.code): p.message for p in err.value.problems}
    assert msgs[("sel", "unknown-column")].startswith(
        'The \'keep\' parameter of clean.select (node "sel") names the column "incme", which is not in its input. '
        'Did you mean "income"?'
    )
    # downstream of the rename, "age" is now "years"
    assert 'names the column "age"' in msgs[("split", "unknown-column")]
    assert 'Did you mean "region"?' in msgs[("fill", "unknown-column")]


def test_unknown_columns_unknowable_before_a_run_fail_the_node_clearly(
    spark, workspace, tmp_path: Path
) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 50}},
        {"id": "q", "op": "transform.sql", "params": {"query": "SELECT age, income FROM gen"}},
        {"id": "s", "op": "split", "params": {"stratify": "agee"}},
    ]
    from .conftest import run_flow

    result = run_flow(
        write_flow(tmp_path, nodes, [("gen.out", "q.in"), ("q.out", "s.in")]), workspace
    )
    assert result.nodes["s"].error == (
        'The \'stratify\' parameter of split (node "s") names the column "agee", which is not in its input. '
        'Did you mean "age"? Columns: age, income.'
    )
