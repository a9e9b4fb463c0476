"""Column statistics and previews of table outputs, straight from Parquet (no Spark)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.stats import STATS_FILE, compute_stats, preview_rows, table_stats


def write(folder: Path, table: pa.Table, parts: int = 1) -> Path:
    folder.mkdir(parents=True)
    step = -(-table.num_rows // parts)
    for i in range(parts):
        pq.write_table(table.slice(i * step, step), folder / f"part-{i}.parquet")
    return folder


def test_stats_of_a_small_table_are_exact(tmp_path: Path) -> None:
    table = pa.table(
        {
            "x": pa.array([1.0, 2.0, None, float("nan"), 4.0]),
            "g": pa.array(["a", "b", "a", None, "a"]),
            "d": pa.array(
                [dt.date(2024, 1, 1), None, dt.date(2023, 5, 2), dt.date(2024, 1, 1), None]
            ),
            "n": pa.array([1, 1, 2, 3, 3], pa.int32()),
        }
    )
    stats = compute_stats(write(tmp_path / "t", table, parts=2))
    cols = {c["name"]: c for c in stats["columns"]}
    assert stats["rows"] == 5 and stats["sample_step"] == 1
    assert cols["x"]["missing"] == 1 and cols["x"]["min"] == 1.0 and cols["x"]["max"] == 4.0
    assert cols["x"]["mean"] == pytest.approx(7 / 3)  # NaN is not averaged in
    assert cols["g"]["top"][0] == {"value": "a", "count": 3} and cols["g"]["distinct"] == 2
    assert cols["d"]["min"] == "2023-05-02" and cols["d"]["missing"] == 2
    assert cols["n"]["type"] == "int" and sum(cols["n"]["histogram"]["counts"]) == 5
    json.dumps(stats, allow_nan=False)  # JSON-safe


def test_big_tables_are_sampled_deterministically_and_stored(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 250_000
    table = pa.table({"v": rng.normal(size=n), "k": pa.array(rng.integers(0, 5, n).astype(str))})
    folder = write(tmp_path / "big", table, parts=3)
    first = table_stats(folder)
    assert (
        first["rows"] == n
        and first["sample_step"] == 3
        and first["sampled_rows"] in (83_333, 83_334)
    )
    cols = {c["name"]: c for c in first["columns"]}
    assert cols["v"]["mean"] == pytest.approx(float(np.mean(table["v"])))  # exact over all rows
    assert (folder / STATS_FILE).exists()
    assert table_stats(folder) == first == compute_stats(folder)
    # the stats file does not become part of the table
    assert pq.ParquetDataset(folder).read().num_rows == n


def test_preview_rows(tmp_path: Path) -> None:
    table = pa.table({"a": list(range(100)), "b": [dt.date(2024, 1, 1)] * 100})
    doc = preview_rows(write(tmp_path / "t", table), rows=3)
    assert doc["total_rows"] == 100 and doc["rows"] == [
        {"a": 0, "b": "2024-01-01"},
        {"a": 1, "b": "2024-01-01"},
        {"a": 2, "b": "2024-01-01"},
    ]
    assert doc["columns"] == [{"name": "a", "type": "bigint"}, {"name": "b", "type": "date"}]
