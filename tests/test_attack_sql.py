"""Attacks through SQL written in a shared flow: each must be refused when the flow is validated
and again at run time (here the validated params are swapped for the attack after validation,
as a tampered run would), and nothing may happen: no marker file, no leaked secret, no
written folder, no deleted row."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from engine.flow import FlowError, load_flow, prepare_flow
from engine.runner import Runner, RunOptions

from .conftest import write_flow
from .test_sql_import import PG_URL, maria_conn, pg_conn

pytestmark = pytest.mark.spark

SECRET = "seer-test-secret-" + uuid.uuid4().hex[:8]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("name,age\nana,31\nbo,45\n")
    return path


def _flow(tmp_path: Path, data: Path, op: str, params: dict) -> Path:
    tmp_path.mkdir(exist_ok=True)
    nodes = [
        {"id": "people", "op": "import.csv", "params": {"path": str(data)}},
        {"id": "n", "op": op, "params": params},
    ]
    return write_flow(tmp_path, nodes, [("people.out", "n.in")], name=f"attack-{op}")


def _refused_at_validation(path: Path) -> str:
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(path))
    return str(err.value)


def _run_tampered(tmp_path: Path, data: Path, workspace, op: str, key: str, attack: str) -> str:
    """Validate a harmless version of the node, swap in the attack, run: the node's error."""
    harmless = {"query": "SELECT * FROM people", "condition": "age > 0", "rule": "age > 0"}[key]
    doc_path = _flow(tmp_path, data, op, {key: harmless})
    prepared = prepare_flow(load_flow(doc_path))
    prepared.nodes["n"].params[key] = attack
    result = Runner(workspace).run(prepared, RunOptions())
    node = result.nodes["n"]
    assert node.status == "failed", f"the attack ran: {attack}"
    return node.error


SQL_ATTACKS = [
    ("transform", "SELECT TRANSFORM(name) USING 'touch {marker}' AS (x) FROM people", "USING"),
    (
        "reflect-env",
        f"SELECT java_method('java.lang.System', 'getenv', '{SECRET}') AS s",
        "java_method",
    ),
    (
        "try-reflect",
        "SELECT try_reflect('java.lang.System', 'getenv', 'HOME') AS s FROM people",
        "try_reflect",
    ),
    ("insert-dir", "INSERT OVERWRITE DIRECTORY '{marker}' SELECT * FROM people", "INSERT"),
    (
        "create-location",
        "CREATE TABLE t USING csv LOCATION '{marker}' AS SELECT * FROM people",
        "CREATE",
    ),
    ("read-file", "SELECT * FROM csv.`/etc/passwd`", "/etc/passwd"),
    ("identifier", "SELECT * FROM IDENTIFIER('csv.`/etc/passwd`')", "identifier"),
    ("two-statements", "SELECT * FROM people; DROP VIEW people", "several statements"),
    ("set-conf", "SET spark.sql.runSQLOnFiles=true", "SET"),
    ("add-jar", "ADD JAR {marker}", "command"),
    ("other-view", "SELECT * FROM global_temp.anything", "global_temp"),
]


@pytest.mark.parametrize("name,attack,named", SQL_ATTACKS, ids=[a[0] for a in SQL_ATTACKS])
def test_transform_sql_attack_is_refused_at_validation_and_at_run_time(
    spark, workspace, tmp_path: Path, data: Path, name: str, attack: str, named: str
) -> None:
    marker = tmp_path / "marker"
    attack = attack.format(marker=marker)
    message = _refused_at_validation(_flow(tmp_path, data, "transform.sql", {"query": attack}))
    assert "transform.sql" in message and named in message
    assert 'node "n"' in message or "n:" in message
    error = _run_tampered(tmp_path, data, workspace, "transform.sql", "query", attack)
    assert named in error
    assert not marker.exists()
    assert SECRET not in error


def test_spark_session_refuses_sql_on_files_and_env_substitution(spark) -> None:
    # the session itself is hardened, below the query check
    os.environ[SECRET] = "value-" + SECRET
    with pytest.raises(Exception, match="(?i)not found|cannot be found"):
        spark.sql("SELECT * FROM csv.`/etc/passwd`").collect()
    row = spark.sql(f"SELECT '${{env:{SECRET}}}' AS s").first()
    assert row["s"] == f"${{env:{SECRET}}}"  # the text, not the variable's value


@pytest.mark.parametrize(
    "op,key,attack,named",
    [
        (
            "clean.filter",
            "condition",
            "reflect('java.lang.System', 'getenv', 'HOME') IS NOT NULL",
            "reflect",
        ),
        ("clean.filter", "condition", "age IN (SELECT * FROM csv.`/etc/passwd`)", "subquery"),
        ("split", "rule", "age > 0; DROP VIEW people", "several statements"),
    ],
)
def test_expression_attacks_are_refused(
    spark, workspace, tmp_path: Path, data: Path, op: str, key: str, attack: str, named: str
) -> None:
    params = {key: attack, **({"mode": "rule"} if op == "split" else {})}
    message = _refused_at_validation(_flow(tmp_path, data, op, params))
    assert named in message and f"'{key}'" in message
    if op == "clean.filter":
        assert named in _run_tampered(tmp_path, data, workspace, op, key, attack)


# -- import.sql ---------------------------------------------------------------------------------
def _sql_node(params: dict) -> list[dict]:
    return [{"id": "db", "op": "import.sql", "params": params}]


@pytest.mark.db
def test_postgresql_table_param_cannot_delete_rows(spark, workspace, tmp_path: Path) -> None:
    table = f"seer_loans_{uuid.uuid4().hex[:8]}"
    conn = pg_conn()
    conn.execute(f"CREATE TABLE {table} (id int)")
    conn.execute(f"INSERT INTO {table} VALUES (1), (2), (3)")
    try:
        attack = f"{table}; DELETE FROM {table}"
        path = write_flow(tmp_path, _sql_node({"url": PG_URL, "table": attack}), [])
        result = Runner(workspace).run(prepare_flow(load_flow(path)), RunOptions())
        assert result.nodes["db"].status == "failed"
        assert "does not exist" in result.nodes["db"].error
        # a query that writes, slipped past validation, meets a read-only session
        path = write_flow(
            tmp_path, _sql_node({"url": PG_URL, "query": f"SELECT * FROM {table}"}), [], name="q"
        )
        prepared = prepare_flow(load_flow(path))
        message = _refused_at_validation(
            write_flow(
                tmp_path,
                _sql_node(
                    {
                        "url": PG_URL,
                        "query": f"WITH d AS (DELETE FROM {table} RETURNING *) SELECT * FROM d",
                    }
                ),
                [],
                name="q2",
            )
        )
        assert "DELETE is not allowed" in message
        prepared.nodes["db"].params["query"] = "SELECT pg_sleep(0)"
        result = Runner(workspace).run(prepared, RunOptions())
        assert "pg_sleep() is not allowed" in result.nodes["db"].error
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 3
    finally:
        conn.execute(f"DROP TABLE {table}")


@pytest.mark.db
def test_postgresql_session_is_read_only(spark, workspace, tmp_path: Path, monkeypatch) -> None:
    """Below the query check, the connection itself refuses writes: with the check switched
    off, a query that deletes rows fails in the database and the rows stay."""
    import operators.sql_import as sql_import

    seq = f"seer_seq_{uuid.uuid4().hex[:8]}"
    conn = pg_conn()
    conn.execute(f"CREATE SEQUENCE {seq}")
    try:
        path = write_flow(tmp_path, _sql_node({"url": PG_URL, "query": "SELECT 1 AS one"}), [])
        prepared = prepare_flow(load_flow(path))
        monkeypatch.setattr(sql_import, "query_problem", lambda *a, **k: None)
        prepared.nodes["db"].params["query"] = f"SELECT nextval('{seq}') AS v"
        result = Runner(workspace).run(prepared, RunOptions())
        assert result.nodes["db"].status == "failed"
        assert "read-only transaction" in result.nodes["db"].error
        assert conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone() == (1, False)
    finally:
        conn.execute(f"DROP SEQUENCE {seq}")


@pytest.mark.db
def test_mariadb_table_param_is_quoted(spark, workspace, tmp_path: Path) -> None:
    table = f"seer_loans_{uuid.uuid4().hex[:8]}"
    conn = maria_conn()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int)")
        cur.execute(f"INSERT INTO {table} VALUES (1), (2)")
    try:
        url = "mysql://root@127.0.0.1:3306/test"
        path = write_flow(
            tmp_path, _sql_node({"url": url, "table": f"{table} WHERE 1=0 UNION SELECT 7"}), []
        )
        result = Runner(workspace).run(prepare_flow(load_flow(path)), RunOptions())
        assert result.nodes["db"].status == "failed"
        message = _refused_at_validation(
            write_flow(
                tmp_path,
                _sql_node({"url": url, "query": "SELECT LOAD_FILE('/etc/passwd')"}),
                [],
                name="m",
            )
        )
        assert "load_file() is not allowed" in message
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] == 2
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE {table}")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:5432/test?user=postgres&password=hunter2",
        "postgresql://127.0.0.1:5432/test?sslpassword=hunter2",
        "mysql://127.0.0.1:3306/test;password=hunter2",
        "postgresql://postgres:hunter2@127.0.0.1:5432/test",
    ],
)
def test_a_password_in_the_url_is_refused_and_never_stored(
    workspace, tmp_path: Path, url: str
) -> None:
    path = write_flow(tmp_path, _sql_node({"url": url, "table": "loans"}), [])
    message = _refused_at_validation(path)
    assert "password" in message and "password_env" in message
    assert (
        not (workspace.root / "seer.db").exists()
        or b"hunter2" not in (workspace.root / "seer.db").read_bytes()
    )


@pytest.mark.db
def test_mariadb_session_is_read_only(spark, workspace, tmp_path: Path, monkeypatch) -> None:
    """A function that writes, called by a query that slipped past the check, fails in the
    database (its schema probe included) and writes nothing."""
    import operators.sql_import as sql_import

    suffix = uuid.uuid4().hex[:8]
    table, func = f"seer_w_{suffix}", f"seer_f_{suffix}"
    conn = maria_conn()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int)")
        cur.execute(
            f"CREATE FUNCTION {func}() RETURNS INT MODIFIES SQL DATA "
            f"BEGIN INSERT INTO {table} VALUES (1); RETURN 1; END"
        )
    try:
        url = "mysql://root@127.0.0.1:3306/test"
        path = write_flow(tmp_path, _sql_node({"url": url, "query": "SELECT 1 AS one"}), [])
        prepared = prepare_flow(load_flow(path))
        monkeypatch.setattr(sql_import, "query_problem", lambda *a, **k: None)
        prepared.nodes["db"].params["query"] = f"SELECT {func}() AS v"
        result = Runner(workspace).run(prepared, RunOptions())
        assert result.nodes["db"].status == "failed"
        assert "READ ONLY" in result.nodes["db"].error
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] == 0
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP FUNCTION {func}")
            cur.execute(f"DROP TABLE {table}")
