"""Validation finds, before anything runs, what can be known: missing input files, columns
that do not exist in filter conditions, split rules and SQL queries, and models scored on the
rows they were trained on. No Spark session is started for any of it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.flow import FlowError, analyze_flow, load_flow, prepare_flow

from .conftest import ROOT, write_flow

CSV = "age,income,workclass\n39,50000,Private\n50,83311,Self-emp\n"


def analyzed(path: Path) -> list:
    _, problems = analyze_flow(load_flow(path))
    return problems


def csv_flow(tmp_path: Path, nodes: list[dict], links: list[tuple[str, str]]) -> Path:
    (tmp_path / "adult.csv").write_text(CSV)
    load = {"id": "load", "op": "import.csv", "params": {"path": "adult.csv"}}
    return write_flow(tmp_path, [load, *nodes], links)


# -- missing input files -------------------------------------------------------------------------
def test_a_missing_input_file_is_found_before_running(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path, [{"id": "load", "op": "import.csv", "params": {"path": "data/adult.csv"}}], []
    )
    [p] = analyzed(path)
    assert (p.node, p.code, p.severity) == ("load", "missing-file", "error")
    assert str(tmp_path / "data" / "adult.csv") in p.message
    assert "does not exist" in p.message and "relative paths" in p.message


def test_a_missing_folder_a_glob_with_no_match_and_a_missing_database(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    nodes = [
        {"id": "pq", "op": "import.parquet", "params": {"path": "nowhere"}},
        {"id": "glob", "op": "import.csv", "params": {"path": "empty/*.csv"}},
        {"id": "db", "op": "import.sql", "params": {"url": "sqlite:///x.db", "table": "t"}},
    ]
    problems = analyzed(write_flow(tmp_path, nodes, []))
    found = {p.node: p.message for p in problems if p.code == "missing-file"}
    assert set(found) == {"pq", "glob", "db"}
    assert "No file matches" in found["glob"]
    assert str(tmp_path / "x.db") in found["db"]


def test_an_existing_file_and_an_export_target_are_not_problems(tmp_path: Path) -> None:
    path = csv_flow(
        tmp_path,
        [{"id": "out", "op": "export.csv", "params": {"path": "new/out.csv"}}],
        [("load.out", "out.in")],
    )
    assert analyzed(path) == []


def test_a_path_outside_the_data_roots_is_not_probed(tmp_path: Path) -> None:
    node = {"id": "load", "op": "import.csv", "params": {"path": "/etc/nope/secret.csv"}}
    [p] = analyzed(write_flow(tmp_path, [node], []))
    assert p.code == "outside-data-roots"  # only that: whether it exists is not said


# -- columns in conditions, rules and queries ----------------------------------------------------
def test_a_misspelled_column_in_a_filter_is_found_with_did_you_mean(tmp_path: Path) -> None:
    path = csv_flow(
        tmp_path,
        [{"id": "filter", "op": "clean.filter", "params": {"condition": "agee > 30"}}],
        [("load.out", "filter.in")],
    )
    [p] = analyzed(path)
    assert (p.node, p.code) == ("filter", "unknown-column")
    assert p.message == (
        "The 'condition' parameter of clean.filter (node \"filter\") uses the column `agee`, "
        "which does not exist in its input (did you mean `age`?). Columns: age, income, "
        "workclass."
    )
    with pytest.raises(FlowError):
        prepare_flow(load_flow(path))


def test_valid_conditions_pass_case_insensitively_with_functions_and_lambdas(
    tmp_path: Path,
) -> None:
    conditions = [
        "AGE > 30 AND income IS NOT NULL",
        "workclass IN ('Private') OR current_date() > date'2020-01-01'",
        'exists(array(age, income), x -> x > 10) AND `workclass` <> "x"',
    ]
    nodes = [
        {"id": f"f{i}", "op": "clean.filter", "params": {"condition": c}}
        for i, c in enumerate(conditions)
    ]
    links = [("load.out", f"f{i}.in") for i in range(len(conditions))]
    assert analyzed(csv_flow(tmp_path, nodes, links)) == []


def test_a_column_missing_from_a_split_rule_is_found(tmp_path: Path) -> None:
    rule = "income > 40000 AND wrkclass = 'Private'"
    path = csv_flow(
        tmp_path,
        [{"id": "cut", "op": "split", "params": {"mode": "rule", "rule": rule}}],
        [("load.out", "cut.in")],
    )
    [p] = analyzed(path)
    assert (p.node, p.code) == ("cut", "unknown-column")
    assert "`wrkclass`" in p.message and "did you mean `workclass`?" in p.message


def test_columns_of_a_sql_query_are_checked_against_each_input_view(tmp_path: Path) -> None:
    queries = {
        "ok": "WITH t AS (SELECT age AS a FROM load) SELECT a, a * 2 AS b FROM t ORDER BY b",
        "bad": "SELECT l.age, incme FROM load l WHERE l.workclass = 'Private'",
        "alias": "SELECT l.agge FROM load AS l",
    }
    nodes = [{"id": k, "op": "transform.sql", "params": {"query": q}} for k, q in queries.items()]
    problems = analyzed(csv_flow(tmp_path, nodes, [("load.out", f"{k}.in") for k in queries]))
    found = {p.node: p.message for p in problems}
    assert set(found) == {"bad", "alias"}, found
    assert "`incme`" in found["bad"] and "did you mean `income`?" in found["bad"]
    assert "`agge`" in found["alias"] and "did you mean `age`?" in found["alias"]


def test_a_query_over_two_links_from_one_split_names_its_views_by_port(tmp_path: Path) -> None:
    query = "SELECT age FROM split_train UNION ALL SELECT agee FROM split_test"
    path = csv_flow(
        tmp_path,
        [
            {"id": "split", "op": "split"},
            {"id": "sql", "op": "transform.sql", "params": {"query": query}},
        ],
        [("load.out", "split.in"), ("split.train", "sql.in"), ("split.test", "sql.in")],
    )
    [p] = analyzed(path)
    assert p.node == "sql" and "`agee`" in p.message


def test_a_query_reading_a_view_that_is_not_an_input_is_found(tmp_path: Path) -> None:
    nodes = [{"id": "sql", "op": "transform.sql", "params": {"query": "SELECT age FROM adult"}}]
    [p] = analyzed(csv_flow(tmp_path, nodes, [("load.out", "sql.in")]))
    assert p.node == "sql"
    assert "it reads `adult`, which is not one of the node's inputs (its inputs: load)" in p.message


def test_where_the_schema_is_unknown_nothing_is_guessed(tmp_path: Path) -> None:
    # transform.sql's output schema is known only once Spark analyses it
    nodes = [
        {"id": "sql", "op": "transform.sql", "params": {"query": "SELECT age AS a FROM load"}},
        {"id": "filter", "op": "clean.filter", "params": {"condition": "whatever > 1"}},
    ]
    path = csv_flow(tmp_path, nodes, [("load.out", "sql.in"), ("sql.out", "filter.in")])
    assert analyzed(path) == []


def test_validation_starts_no_spark(tmp_path: Path) -> None:
    import subprocess

    path = csv_flow(
        tmp_path,
        [{"id": "filter", "op": "clean.filter", "params": {"condition": "agee > 30"}}],
        [("load.out", "filter.in")],
    )
    code = (
        "import sys; from engine.flow import analyze_flow, load_flow; "
        f"analyze_flow(load_flow({str(path)!r})); "
        "print('pyspark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sample_flows_have_no_problems() -> None:
    for path in sorted((ROOT / "sample_flows").glob("*.flow.json")):
        assert analyzed(path) == [], path.name


# -- leakage: a model scored on the rows it was trained on ---------------------------------------
def _models_flow(tmp_path: Path, rewire: dict[str, str]) -> Path:
    """The credit_risk_models sample with some links' sources replaced ("dst.port": "src.port")."""
    import json

    doc = json.loads((ROOT / "sample_flows" / "credit_risk_models.flow.json").read_text())
    for lk in doc["links"]:
        dst = f"{lk['to']['node']}.{lk['to']['port']}"
        if dst in rewire:
            node, port = rewire[dst].split(".")
            lk["from"] = {"node": node, "port": port}
    path = tmp_path / "models.flow.json"
    path.write_text(json.dumps(doc))
    return path


def test_scoring_a_model_on_its_own_training_rows_is_a_warning(tmp_path: Path) -> None:
    path = _models_flow(tmp_path, {"score_gbdt.data": "split.train"})
    [p] = analyzed(path)
    assert (p.node, p.code, p.severity) == ("score_gbdt", "leakage", "warning")
    assert p.message.startswith(
        'Node "Score with GBDT" (score_gbdt) scores rows that node "GBDT" (gbdt) was trained on: '
        'both come from the "train" output of node "80/20 split" (split)'
    )
    assert p.message.endswith(
        'Link the "test" output of node "80/20 split" (split) to the "data" input of node '
        '"Score with GBDT" (score_gbdt) instead.'
    )
    # a warning does not stop the flow from running
    prepared = prepare_flow(load_flow(path))
    assert [w.code for w in prepared.warnings] == ["leakage"]


def test_leakage_is_followed_through_features_and_cleaning(tmp_path: Path) -> None:
    # lr is trained on features.train (from split.train); scoring features.train again leaks,
    # scoring split.test through features.test does not
    path = _models_flow(tmp_path, {"score_lr.data": "features.train"})
    [p] = analyzed(path)
    assert p.node == "score_lr" and "(lr) was trained on" in p.message
    path = _models_flow(tmp_path, {"score_lr.data": "features.test"})
    assert analyzed(path) == []


def test_small_flows_with_and_without_leakage(tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 100}},
        {"id": "cut", "op": "split"},
        {"id": "older", "op": "clean.filter", "params": {"condition": "age > 30"}},
        {"id": "model", "op": "train.gbdt", "params": {"label": "default"}},
        {"id": "fair", "op": "predict"},
        {"id": "leaky", "op": "predict"},
    ]
    links = [
        ("gen.out", "cut.in"),
        ("cut.train", "model.train"),
        ("cut.test", "model.valid"),  # validation rows are not training rows
        ("cut.train", "older.in"),
        ("model.model", "fair.model"),
        ("cut.test", "fair.data"),
        ("model.model", "leaky.model"),
        ("older.out", "leaky.data"),
    ]
    problems = analyzed(write_flow(tmp_path, nodes, links))
    assert [(p.node, p.code) for p in problems] == [("leaky", "leakage")]
    assert 'the "train" output of node "cut"' in problems[0].message


def test_training_scores_for_a_report_are_not_leakage_but_evaluating_them_is(
    tmp_path: Path,
) -> None:
    """A model report sets train and test performance side by side: scoring the training rows
    for it is expected; the same scores in an evaluation are still flagged."""
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 100}},
        {"id": "cut", "op": "split"},
        {"id": "model", "op": "train.gbdt", "params": {"label": "default"}},
        {"id": "dev", "op": "predict"},
        {"id": "report", "op": "report.model"},
    ]
    links = [
        ("gen.out", "cut.in"),
        ("cut.train", "model.train"),
        ("model.model", "dev.model"),
        ("cut.train", "dev.data"),
        ("model.model", "report.model"),
        ("dev.out", "report.scored"),
    ]
    assert analyzed(write_flow(tmp_path, nodes, links)) == []
    nodes.append({"id": "evaluate", "op": "evaluate.binary"})
    links.append(("dev.out", "evaluate.scored"))
    problems = analyzed(write_flow(tmp_path, nodes, links))
    assert [(p.node, p.code) for p in problems] == [("dev", "leakage")]


# -- seer validate -------------------------------------------------------------------------------
def test_seer_validate_shows_the_new_problems_and_warnings_do_not_fail_it(tmp_path: Path) -> None:
    import json

    from .conftest import seer_cli

    leaky = _models_flow(tmp_path, {"score_gbdt.data": "split.train"})
    proc = seer_cli("validate", str(leaky), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 warning" in proc.stderr and "score_gbdt" in proc.stderr
    assert 'Link the "test" output of node "80/20 split" (split)' in proc.stderr
    doc = json.loads(seer_cli("validate", str(leaky), "--json", timeout=120).stdout)
    assert doc["valid"] is True
    assert [(p["node"], p["severity"]) for p in doc["problems"]] == [("score_gbdt", "warning")]

    typo = csv_flow(
        tmp_path,
        [{"id": "filter", "op": "clean.filter", "params": {"condition": "agee > 30"}}],
        [("load.out", "filter.in")],
    )
    proc = seer_cli("validate", str(typo), timeout=120)
    assert proc.returncode == 2
    assert "did you mean `age`?" in proc.stderr and "filter" in proc.stderr
    (tmp_path / "adult.csv").unlink()
    proc = seer_cli("validate", str(typo), timeout=120)
    assert proc.returncode == 2 and "adult.csv" in proc.stderr and "does not exist" in proc.stderr
