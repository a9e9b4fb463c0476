"""The first data operators on real Spark, checked on content, not only row counts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.flow import FlowError

from .conftest import SHARED_DATA, run_flow, write_flow

pytestmark = pytest.mark.spark


def split_of(spark, tmp_path: Path, ws, df, **params):
    """Run split on a DataFrame (via a Parquet file) and return (train, test) as pandas."""
    src = tmp_path / "src.parquet"
    df.write.mode("overwrite").parquet(str(src))
    nodes = [
        {"id": "load", "op": "import.parquet", "params": {"path": str(src)}},
        {"id": "split", "op": "split", "params": params},
    ]
    result = run_flow(write_flow(tmp_path, nodes, [("load.out", "split.in")], name="split"), ws)
    assert result.status == "succeeded", result.nodes["split"].error
    out = result.nodes["split"].outputs
    return (
        pq.read_table(out["train"]["path"]).to_pandas(),
        pq.read_table(out["test"]["path"]).to_pandas(),
        result,
    )


def test_ratio_split_partitions_the_input_exactly_and_ignores_partitioning(
    spark, workspace, tmp_path: Path
) -> None:
    df = spark.range(0, 20000).selectExpr("id", "CAST(id % 7 AS STRING) AS k", "rand(3) AS x")
    train1, test1, _ = split_of(
        spark, tmp_path / "a", workspace, df.repartition(1), ratio=0.75, seed=5
    )
    train2, test2, _ = split_of(
        spark, tmp_path / "b", workspace, df.repartition(9), ratio=0.75, seed=5
    )
    ids1, ids2 = set(train1["id"]), set(train2["id"])
    assert ids1 == ids2 and set(test1["id"]) == set(test2["id"])  # independent of partitioning
    assert ids1.isdisjoint(test1["id"]) and len(ids1) + len(test1) == 20000  # exact partition
    assert abs(len(ids1) / 20000 - 0.75) < 0.015
    train3, _, _ = split_of(spark, tmp_path / "c", workspace, df, ratio=0.75, seed=6)
    assert set(train3["id"]) != ids1  # the seed matters


def test_stratified_split_keeps_the_ratio_in_every_stratum(
    spark, workspace, tmp_path: Path
) -> None:
    df = spark.range(0, 10000).selectExpr("id", "CASE WHEN id % 10 = 0 THEN 1 ELSE 0 END AS label")
    train, test, _ = split_of(spark, tmp_path, workspace, df, ratio=0.8, stratify="label")
    assert len(train) + len(test) == 10000 and set(train["id"]).isdisjoint(test["id"])
    assert (train["label"] == 1).sum() == 800 and (train["label"] == 0).sum() == 7200


def test_rule_split_sends_false_and_null_rows_to_test(spark, workspace, tmp_path: Path) -> None:
    df = spark.createDataFrame(
        [(1, "2023-05-01"), (2, "2024-02-01"), (3, None), (4, "2022-12-31")], "id int, d string"
    ).selectExpr("id", "CAST(d AS DATE) AS d")
    train, test, _ = split_of(
        spark, tmp_path, workspace, df, mode="rule", rule="d < DATE'2024-01-01'"
    )
    assert sorted(train["id"]) == [1, 4] and sorted(test["id"]) == [2, 3]


def test_a_bad_rule_names_the_problem_and_the_columns(spark, workspace, tmp_path: Path) -> None:
    df = spark.range(5)
    src = tmp_path / "src.parquet"
    df.write.parquet(str(src))
    nodes = [
        {"id": "load", "op": "import.parquet", "params": {"path": str(src)}},
        {"id": "s", "op": "split", "params": {"mode": "rule", "rule": "id.x > 3"}},
    ]
    # a field of a column is not guessed at validation: Spark finds it when the node runs
    result = run_flow(write_flow(tmp_path, nodes, [("load.out", "s.in")]), workspace)
    err = result.nodes["s"].error
    assert err.startswith('The rule of split (node "s") cannot be used:'), err
    assert "Columns: id." in err
    # a misspelled column is found when the flow is validated
    nodes[1]["params"]["rule"] = "idd > 3"
    with pytest.raises(FlowError) as exc:
        run_flow(write_flow(tmp_path, nodes, [("load.out", "s.in")]), workspace)
    assert "uses the column `idd`, which does not exist in its input (did you mean `id`?)" in str(
        exc.value
    )
    # a rule that is not SQL at all is refused when the flow is validated
    nodes[1]["params"]["rule"] = "id >"
    with pytest.raises(FlowError) as exc:
        run_flow(write_flow(tmp_path, nodes, [("load.out", "s.in")]), workspace)
    assert "The 'rule' parameter of split (node \"s\") cannot be used: it is not valid SQL" in str(
        exc.value
    )


def test_import_sample_is_deterministic_and_has_the_promised_columns(
    spark, workspace, tmp_path: Path
) -> None:
    from engine.sampledata import sample_schema

    nodes = [{"id": "g", "op": "import.sample", "params": {"rows": 3000, "seed": 11}}]
    r1 = run_flow(write_flow(tmp_path, nodes, []), workspace)
    r2 = run_flow(write_flow(tmp_path, nodes, []), workspace, force={"g"})
    t1 = pq.read_table(r1.nodes["g"].outputs["out"]["path"]).to_pandas().sort_values("customer_id")
    t2 = pq.read_table(r2.nodes["g"].outputs["out"]["path"]).to_pandas().sort_values("customer_id")
    assert t1.reset_index(drop=True).equals(t2.reset_index(drop=True))
    assert [c["name"] for c in r1.nodes["g"].outputs["out"]["schema"]] == sample_schema(
        "credit_risk"
    ).names
    # infer_schema (no Spark) agrees with what Spark produced
    assert r1.nodes["g"].outputs["out"]["schema"] == sample_schema("credit_risk").to_json()


def test_import_csv_reads_files_folders_and_globs(spark, workspace, tmp_path: Path) -> None:
    data = tmp_path / "parts"
    data.mkdir()
    (data / "a.csv").write_text("id;name;score\n1;ana;0.5\n2;bo;NA\n")
    (data / "b.csv").write_text("id;name;score\n3;cy;1.5\n")
    (data / "notes.txt").write_text("not data")
    nodes = [
        {
            "id": "f",
            "op": "import.csv",
            "params": {"path": "parts/*.csv", "delimiter": ";", "null_values": ["", "NA"]},
        }
    ]
    result = run_flow(write_flow(tmp_path, nodes, []), workspace)
    assert result.status == "succeeded", result.nodes["f"].error
    out = result.nodes["f"].outputs["out"]
    df = pq.read_table(out["path"]).to_pandas().sort_values("id")
    assert list(df["name"]) == ["ana", "bo", "cy"]
    assert {c["name"]: c["type"] for c in out["schema"]}["id"] == "int"
    # the "NA" marker became missing (the column stays a string column: it held "NA")
    assert df["score"].isna().sum() == 1


def test_import_csv_infer_schema_matches_spark_without_a_job(
    spark, workspace, tmp_path: Path
) -> None:
    from engine.registry import load_registry

    path = tmp_path / "loans.csv"
    from engine.sampledata import write_sample

    write_sample("credit_risk", 500, 1, path)
    op = load_registry().get("import.csv")
    params = op.with_defaults({"path": str(path)})
    guessed = op.infer_schema({}, params)["out"]
    nodes = [{"id": "f", "op": "import.csv", "params": {"path": "loans.csv"}}]
    result = run_flow(write_flow(tmp_path, nodes, []), workspace)
    assert guessed.to_json() == result.nodes["f"].outputs["out"]["schema"]


def test_import_csv_errors_are_sentences(spark, workspace, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    missing = [{"id": "missing", "op": "import.csv", "params": {"path": "nope/*.csv"}}]
    with pytest.raises(FlowError) as exc:  # found before running
        run_flow(write_flow(tmp_path, missing, [], name="missing"), workspace)
    [problem] = exc.value.problems
    assert problem.code == "missing-file" and problem.message.startswith("No file matches ")
    assert "nope/*.csv" in problem.message
    nodes = [
        {
            "id": "badrow",
            "op": "import.csv",
            "params": {"path": "bad.csv", "schema": {"a": "int", "b": "int"}},
        },
        {"id": "n", "op": "transform.sql", "params": {"query": "SELECT SUM(a) AS s FROM badrow"}},
    ]
    result = run_flow(write_flow(tmp_path, nodes, [("badrow.out", "n.in")]), workspace)
    assert result.nodes["badrow"].status == "failed"
    assert (
        "Malformed" in result.nodes["badrow"].error or "malformed" in result.nodes["badrow"].error
    )


def test_export_writes_one_file_or_a_folder_of_parts(spark, workspace, tmp_path: Path) -> None:
    nodes = [
        {"id": "g", "op": "import.sample", "params": {"rows": 1500, "seed": 2}},
        {"id": "one", "op": "export.csv", "params": {"path": "out/all.csv"}},
        {"id": "many", "op": "export.csv", "params": {"path": "out/parts"}},
        {"id": "pq", "op": "export.parquet", "params": {"path": "out/all.parquet"}},
    ]
    links = [("g.out", "one.in"), ("g.out", "many.in"), ("g.out", "pq.in")]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace)
    assert result.status == "succeeded"
    one = (tmp_path / "out" / "all.csv").read_text().splitlines()
    assert one[0].startswith("customer_id,application_date,age") and len(one) == 1501
    parts = sorted((tmp_path / "out" / "parts").glob("part-*.csv"))
    assert parts and sum(len(p.read_text().splitlines()) - 1 for p in parts) == 1500
    assert pq.read_table(tmp_path / "out" / "all.parquet").num_rows == 1500
    # nothing temporary is left next to the targets
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "all.csv",
        "all.parquet",
        "parts",
    ]


def test_export_refuses_to_overwrite_when_told_not_to(spark, workspace, tmp_path: Path) -> None:
    (tmp_path / "keep.csv").write_text("precious\n")
    nodes = [
        {"id": "g", "op": "import.sample", "params": {"rows": 10}},
        {"id": "e", "op": "export.csv", "params": {"path": "keep.csv", "overwrite": False}},
    ]
    result = run_flow(write_flow(tmp_path, nodes, [("g.out", "e.in")]), workspace)
    assert "will not replace" in result.nodes["e"].error
    assert (tmp_path / "keep.csv").read_text() == "precious\n"


def test_transform_sql_joins_several_inputs_by_node_id(spark, workspace, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,name\n1,ana\n2,bo\n")
    (tmp_path / "scores.csv").write_text("id,score\n1,10\n2,20\n2,5\n")
    nodes = [
        {"id": "people", "op": "import.csv", "params": {"path": "people.csv"}},
        {"id": "score-table", "op": "import.csv", "params": {"path": "scores.csv"}},
        {
            "id": "j",
            "op": "transform.sql",
            "params": {
                "query": "SELECT p.name, SUM(s.score) AS total FROM people p JOIN `score-table` s ON p.id = s.id "
                "GROUP BY p.name ORDER BY p.name"
            },
        },
    ]
    result = run_flow(
        write_flow(tmp_path, nodes, [("people.out", "j.in"), ("score-table.out", "j.in")]),
        workspace,
    )
    assert result.status == "succeeded", result.nodes["j"].error
    df = pq.read_table(result.nodes["j"].outputs["out"]["path"]).to_pandas()
    assert df.to_dict("records") == [{"name": "ana", "total": 10}, {"name": "bo", "total": 25}]


@pytest.mark.skipif(
    not (SHARED_DATA / "bank_marketing").exists(),
    reason="../shared/data is absent (a fresh clone has no real datasets)",
)
def test_real_data_bank_marketing_imports_and_splits(spark, workspace, tmp_path: Path) -> None:
    path = SHARED_DATA / "bank_marketing" / "bank-full.csv"
    nodes = [
        {"id": "bank", "op": "import.csv", "params": {"path": str(path), "delimiter": ";"}},
        {"id": "split", "op": "split", "params": {"ratio": 0.8, "stratify": "y"}},
        {
            "id": "rate",
            "op": "transform.sql",
            "params": {
                "query": "SELECT 'train' AS part, AVG(CASE WHEN y = 'yes' THEN 1.0 ELSE 0 END) AS r FROM split_train "
                "UNION ALL SELECT 'test', AVG(CASE WHEN y = 'yes' THEN 1.0 ELSE 0 END) FROM split_test"
            },
        },
    ]
    links = [("bank.out", "split.in"), ("split.train", "rate.in"), ("split.test", "rate.in")]
    result = run_flow(write_flow(tmp_path, nodes, links), workspace)
    assert result.status == "succeeded"
    assert result.nodes["bank"].rows == {"out": 45211}
    assert sum(result.nodes["split"].rows.values()) == 45211
    rates = (
        pq.read_table(result.nodes["rate"].outputs["out"]["path"])
        .to_pandas()
        .set_index("part")["r"]
    )
    assert abs(rates["train"] - rates["test"]) < 0.002  # stratified on y


def test_a_wrong_delimiter_is_caught_at_validation(tmp_path: Path) -> None:
    from engine.flow import FlowError, load_flow, prepare_flow

    (tmp_path / "semi.csv").write_text("age;job;y\n30;admin;no\n41;tech;yes\n")
    nodes = [{"id": "load", "op": "import.csv", "params": {"path": "semi.csv"}}]
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(write_flow(tmp_path, nodes, [])))
    [problem] = err.value.problems
    assert problem.node == "load"
    assert problem.message.startswith(
        "The 'delimiter' parameter of import.csv (node \"load\") does not match"
    )
    assert "set 'delimiter' to ';'" in problem.message


def test_import_parquet_refuses_files_that_are_not_parquet(
    spark, workspace, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.parquet").write_text("this is not parquet")
    nodes = [{"id": "pq", "op": "import.parquet", "params": {"path": "data"}}]
    result = run_flow(write_flow(tmp_path, nodes, []), workspace)
    assert "is not a readable Parquet file" in result.nodes["pq"].error
    assert "Point 'path' at Parquet files only." in result.nodes["pq"].error
    none = [{"id": "none", "op": "import.parquet", "params": {"path": "nothing/*.parquet"}}]
    with pytest.raises(FlowError) as exc:  # found before running
        run_flow(write_flow(tmp_path, none, [], name="none"), workspace)
    assert "No file matches" in str(exc.value) and 'import.parquet (node "none")' in str(exc.value)
