"""import.sql against real SQLite, PostgreSQL and MariaDB servers (127.0.0.1), checked on content."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark

PG_URL = os.environ.get("SEER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}

ROWS = [
    (1, "Ana Lima", 1200.5, dt.date(2024, 1, 5), None),
    (2, "Bo 李", None, dt.date(2024, 2, 1), "vip"),
    (3, "Cy 🚀", -3.25, None, "std"),
    (4, "Di", 0.0, dt.date(2023, 12, 31), "std"),
]


def _rows(df) -> list[tuple]:
    out = []
    for r in df.sort_values("id").itertuples(index=False):
        out.append(tuple(None if (isinstance(v, float) and v != v) else v for v in r))
    return out


def pg_conn():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {exc}")


def maria_conn():
    pymysql = pytest.importorskip("pymysql")
    try:
        return pymysql.connect(**MARIA, autocommit=True)
    except pymysql.err.OperationalError as exc:
        pytest.skip(f"MariaDB is not reachable at 127.0.0.1:3306: {exc}")


def read_out(result, node: str = "db"):
    assert result.nodes[node].status == "succeeded", result.nodes[node].error
    return pq.read_table(result.nodes[node].outputs["out"]["path"]).to_pandas()


@pytest.mark.db
def test_postgresql_table_with_quoted_names_reads_exactly(spark, workspace, tmp_path: Path) -> None:
    table = f"seer_t_{uuid.uuid4().hex[:8]}"
    conn = pg_conn()
    conn.execute(
        f'CREATE TABLE {table} (id int, "Customer Name" text, "order" double precision, day date, tier text)'
    )
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", ROWS)
    try:
        nodes = [
            {
                "id": "db",
                "op": "import.sql",
                "params": {
                    "url": PG_URL,
                    "table": table,
                    "partition_column": "id",
                    "partitions": 3,
                },
            }
        ]
        df = read_out(run_flow(write_flow(tmp_path, nodes, []), workspace))
        assert list(df.columns) == ["id", "Customer Name", "order", "day", "tier"]
        assert _rows(df) == ROWS
    finally:
        conn.execute(f"DROP TABLE {table}")


@pytest.mark.db
def test_mariadb_quoted_names_are_columns_not_string_literals(
    spark, workspace, tmp_path: Path
) -> None:
    table = f"seer_t_{uuid.uuid4().hex[:8]}"
    conn = maria_conn()
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {table} (id int, `Customer Name` varchar(40), `order` double, day date, tier varchar(8))"
            " CHARACTER SET utf8mb4"
        )
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", ROWS)
    try:
        for url in ("mysql://root@127.0.0.1:3306/test", "mariadb://127.0.0.1/test"):
            nodes = [
                {
                    "id": "db",
                    "op": "import.sql",
                    "params": {
                        "url": url,
                        "user_env": "SEER_TEST_DB_USER",
                        "query": f"SELECT * FROM {table} WHERE id > 0",
                        "partition_column": "id",
                        "partitions": 2,
                    },
                }
            ]
            os.environ["SEER_TEST_DB_USER"] = "root"
            df = read_out(run_flow(write_flow(tmp_path, nodes, []), workspace))
            assert list(df.columns) == ["id", "Customer Name", "order", "day", "tier"]
            assert _rows(df) == ROWS  # not the literal strings 'Customer Name' / 'order'
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE {table}")


def test_sqlite_file_relative_to_the_flow(spark, workspace, tmp_path: Path) -> None:
    db = tmp_path / "data" / "shop.db"
    db.parent.mkdir()
    with sqlite3.connect(db) as c:
        c.execute('CREATE TABLE orders (id INTEGER, "Customer Name" TEXT, amount REAL)')
        c.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, "ana", 2.5), (2, "bo", None)])
    nodes = [
        {
            "id": "db",
            "op": "import.sql",
            "params": {
                "url": "sqlite:///data/shop.db",
                "query": "SELECT * FROM orders ORDER BY id",
                "static": True,
            },
        }
    ]
    path = write_flow(tmp_path, nodes, [])
    df = read_out(run_flow(path, workspace))
    assert df.to_dict("records")[0] == {"id": 1, "Customer Name": "ana", "amount": 2.5}
    # static: served from the cache until the file changes
    assert run_flow(path, workspace).nodes["db"].status == "cached"
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO orders VALUES (3, 'cy', 1.0)")
    assert len(read_out(run_flow(path, workspace))) == 3


def test_a_database_source_reruns_unless_static(spark, workspace, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (a INTEGER)")
        c.execute("INSERT INTO t VALUES (1)")
    nodes = [{"id": "db", "op": "import.sql", "params": {"url": f"sqlite:///{db}", "table": "t"}}]
    path = write_flow(tmp_path, nodes, [])
    run_flow(path, workspace)
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO t VALUES (2)")
    again = run_flow(path, workspace)
    assert again.nodes["db"].status == "succeeded" and again.nodes["db"].rows == {"out": 2}


def test_import_sql_errors_are_sentences(spark, workspace, tmp_path: Path, monkeypatch) -> None:
    from engine.flow import FlowError, load_flow, prepare_flow

    db = tmp_path / "x.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (a INTEGER)")
    monkeypatch.delenv("SEER_NO_SUCH_VAR", raising=False)
    cases = {
        "refused": (
            {"url": "postgresql://127.0.0.1:1/test", "table": "t"},
            "Check the host and port",
        ),
        "notable": ({"url": f"sqlite:///{db}", "table": "missing_table"}, "no such table"),
        "noenv": (
            {"url": f"sqlite:///{db}", "table": "t", "password_env": "SEER_NO_SUCH_VAR"},
            "environment variable SEER_NO_SUCH_VAR, which is not set",
        ),
        "badcol": (
            {"url": f"sqlite:///{db}", "table": "t", "partition_column": "zz"},
            "could not read",
        ),
    }
    nodes = [{"id": k, "op": "import.sql", "params": p} for k, (p, _) in cases.items()]
    result = run_flow(write_flow(tmp_path, nodes, []), workspace)
    for k, (_, expected) in cases.items():
        err = result.nodes[k].error or ""
        assert result.nodes[k].status == "failed" and expected in err, (k, err)
        assert "Traceback" not in err and "\tat " not in err
    # caught before running
    bad = [
        {
            "id": "pw",
            "op": "import.sql",
            "params": {"url": "postgresql://u:secret@h/db", "table": "t"},
        },
        {
            "id": "write",
            "op": "import.sql",
            "params": {"url": "sqlite:///x.db", "query": "DELETE FROM t"},
        },
        {
            "id": "both",
            "op": "import.sql",
            "params": {"url": "sqlite:///x.db", "query": "SELECT 1", "table": "t"},
        },
        {"id": "scheme", "op": "import.sql", "params": {"url": "oracle://h/db", "table": "t"}},
        {"id": "nofile", "op": "import.sql", "params": {"url": "sqlite:///nope.db", "table": "t"}},
        {
            "id": "syntax",
            "op": "import.sql",
            "params": {"url": "sqlite:///x.db", "query": "SELECT FROM WHERE"},
        },
    ]
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(write_flow(tmp_path, bad, [], name="bad")))
    msgs = {p.node: p.message for p in err.value.problems}
    assert "never store a password" in msgs["pw"]
    assert "DELETE is not allowed: only a read-only query is" in msgs["write"]
    assert "not valid SQL (near 'WHERE', line 1, column 17)" in msgs["syntax"]
    assert "exactly one of the 'table' and 'query'" in msgs["both"]
    assert "is not a database URL Seer reads" in msgs["scheme"]
    assert f"The file or folder {tmp_path / 'nope.db'}" in msgs["nofile"]
    assert "does not exist" in msgs["nofile"]
