"""The data issue's end-to-end story on real data: UCI Bank Marketing from its CSV file, from a
PostgreSQL table and from a MariaDB table, split by ratio and out-of-time by rule, cleaned and
exported, with row counts that add up exactly and the same rows from every source."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import SHARED_DATA, run_flow, write_flow
from .test_sql_import import PG_URL, maria_conn, pg_conn

BANK = SHARED_DATA / "bank_marketing" / "bank-full.csv"
pytestmark = [
    pytest.mark.spark,
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not BANK.exists(), reason="../shared/data is absent (a fresh clone has no real datasets)"
    ),
]
INT_COLS = {"age", "balance", "day", "duration", "campaign", "pdays", "previous"}


def bank_rows() -> tuple[list[str], list[tuple]]:
    with BANK.open(newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        rows = [
            tuple(
                [i + 1] + [int(v) if h in INT_COLS else v for h, v in zip(header, r, strict=True)]
            )
            for i, r in enumerate(reader)
        ]
    return header, rows


@pytest.fixture(scope="module")
def bank_tables():
    header, rows = bank_rows()
    cols = ", ".join(f"{h} {'integer' if h in INT_COLS else 'varchar(20)'}" for h in header)
    table = f"bank_{uuid.uuid4().hex[:8]}"
    pg = pg_conn()
    pg.execute(
        f"CREATE TABLE {table} (id integer, {cols.replace('default ', chr(34) + 'default' + chr(34) + ' ')})"
    )
    with pg.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
        for r in rows:
            copy.write_row(r)
    maria = maria_conn()
    with maria.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int, {cols.replace('default ', '`default` ')})")
        placeholders = ", ".join(["%s"] * (len(header) + 1))
        for i in range(0, len(rows), 5000):
            cur.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows[i : i + 5000])
    yield table, len(rows)
    pg.execute(f"DROP TABLE {table}")
    with maria.cursor() as cur:
        cur.execute(f"DROP TABLE {table}")


def test_bank_marketing_from_csv_postgresql_and_mariadb(
    spark, workspace, tmp_path: Path, bank_tables
) -> None:
    table, n = bank_tables
    sources = {
        "csv": {"op": "import.csv", "params": {"path": str(BANK), "delimiter": ";"}},
        "pg": {
            "op": "import.sql",
            "params": {"url": PG_URL, "table": table, "partition_column": "id", "partitions": 4},
        },
        "maria": {
            "op": "import.sql",
            "params": {
                "url": "mysql://root@127.0.0.1:3306/test",
                "table": table,
                "partition_column": "id",
                "partitions": 4,
            },
        },
    }
    nodes, links = [], []
    for name, spec in sources.items():
        nodes += [
            {"id": name, **spec},
            # `duration` leaks the label; the row id exists only in the database copies
            {
                "id": f"{name}_clean",
                "op": "clean.select",
                "params": {"drop": ["duration"] + (["id"] if name != "csv" else [])},
            },
            {"id": f"{name}_ratio", "op": "split", "params": {"ratio": 0.8, "seed": 42}},
            {
                "id": f"{name}_oot",
                "op": "split",
                "params": {"mode": "rule", "rule": "month NOT IN ('sep', 'oct', 'nov', 'dec')"},
            },
            {
                "id": f"{name}_export",
                "op": "export.parquet",
                "params": {"path": f"out/{name}_test"},
            },
        ]
        links += [
            (f"{name}.out", f"{name}_clean.in"),
            (f"{name}_clean.out", f"{name}_ratio.in"),
            (f"{name}_clean.out", f"{name}_oot.in"),
            (f"{name}_ratio.test", f"{name}_export.in"),
        ]
    result = run_flow(write_flow(tmp_path, nodes, links, name="bank"), workspace)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}

    for name in sources:
        assert result.nodes[name].rows == {"out": n} == {"out": 45211}
        ratio, oot = result.nodes[f"{name}_ratio"].rows, result.nodes[f"{name}_oot"].rows
        assert ratio["train"] + ratio["test"] == n and oot["train"] + oot["test"] == n
        assert abs(ratio["train"] / n - 0.8) < 0.01
    # The split hashes row content, so the same rows land in train from every source.
    assert (
        result.nodes["csv_ratio"].rows
        == result.nodes["pg_ratio"].rows
        == result.nodes["maria_ratio"].rows
    )
    assert (
        result.nodes["csv_oot"].rows
        == result.nodes["pg_oot"].rows
        == result.nodes["maria_oot"].rows
    )
    frames = {
        name: (df := pq.read_table(tmp_path / "out" / f"{name}_test").to_pandas())
        .sort_values(list(df.columns))
        .reset_index(drop=True)
        for name in sources
    }
    assert (
        list(frames["csv"].columns) == list(frames["pg"].columns) == list(frames["maria"].columns)
    )
    assert dict(frames["csv"].dtypes) == dict(frames["pg"].dtypes) == dict(frames["maria"].dtypes)
    assert frames["csv"].equals(frames["pg"]) and frames["csv"].equals(frames["maria"])
    assert "duration" not in frames["csv"].columns
