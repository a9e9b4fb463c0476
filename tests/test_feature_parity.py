"""The two feature compilers agree: Spark column expressions and the pure-Python function give
identical indices and values on thousands of randomized rows, edge cases included."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.features.fit import fit_features
from engine.features.online import compile_transform, token_index
from engine.features.spark import INDEX_COL, VALUE_COL, apply_transform

pytestmark = pytest.mark.spark

N = 6000
BOUNDS = [-1.0, 0.0, 2.5, 1e10]
WORDS = [
    "admin",
    "tech",
    "",
    "Ünïcödé",
    "日本語",
    "emoji 🚀",
    "a=b&c",
    "__missing__",
    " spaced ",
    "x" * 40,
]

CONFIG = [
    {"kind": "continuous", "column": "x"},
    {"kind": "continuous", "column": "x", "name": "x_log", "transform": "log1p"},
    {"kind": "continuous", "column": "x", "name": "x_std", "transform": ["clip", "standardize"]},
    {
        "kind": "continuous",
        "column": "i",
        "name": "i_cont",
        "transform": ["clip", "log1p", "standardize"],
    },
    {"kind": "discrete", "column": "s"},
    {"kind": "discrete", "column": "s", "name": "s_vocab", "min_count": 700},
    {"kind": "discrete", "column": "i"},
    {"kind": "discrete", "column": "big"},
    {"kind": "discrete", "column": "flag"},
    {"kind": "discrete", "column": "d"},
    {"kind": "bucket", "column": "x", "name": "x_fixed", "boundaries": BOUNDS},
    {"kind": "bucket", "column": "x", "name": "x_q", "buckets": 10},
    {"kind": "bucket", "column": "i", "name": "i_q", "buckets": 4},
    {
        "kind": "combine",
        "of": [
            {"kind": "discrete", "column": "s"},
            {"kind": "bucket", "column": "x", "buckets": 5},
        ],
    },
    {
        "kind": "combine",
        "of": [{"kind": "discrete", "column": "flag"}, {"kind": "discrete", "column": "i"}],
        "name": "flag_i",
    },
    {
        "kind": "datetime",
        "column": "ts",
        "parts": ["hour", "minute", "weekday", "month", "dayofyear"],
    },
    {"kind": "datetime", "column": "d", "name": "d_parts", "parts": ["year", "day", "weekday"]},
]


def random_table(seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    specials = np.array(
        [
            *BOUNDS,
            -0.0,
            0.0,
            math.nan,
            math.inf,
            -math.inf,
            1e300,
            -1e300,
            5e-324,
            2.5000000000000004,
        ]
    )
    x = np.where(rng.random(N) < 0.3, rng.choice(specials, N), rng.normal(0, 100, N))
    x_mask = rng.random(N) < 0.05
    i = rng.integers(-50, 50, N).astype(np.int32)
    big = rng.choice(np.array([2**62, -(2**62), 0, 12345678901234], dtype=np.int64), N)
    weights = np.array([30, 20, 10, 8, 8, 8, 6, 4, 4, 2], dtype=float)
    s = rng.choice(np.array(WORDS, dtype=object), N, p=weights / weights.sum())
    s_mask = rng.random(N) < 0.05
    flag = rng.random(N) < 0.4
    days = rng.integers(-3000, 25000, N)
    d = np.datetime64("1970-01-01") + days.astype("timedelta64[D]")
    secs = rng.integers(-(10**9), 3 * 10**9, N)
    ts = np.datetime64("1970-01-01T00:00:00") + secs.astype("timedelta64[s]")
    return pa.table(
        {
            "x": pa.array(x, mask=x_mask),
            "i": pa.array(i, mask=rng.random(N) < 0.03),
            "big": pa.array(big),
            "s": pa.array(s, type=pa.string(), mask=s_mask),
            "flag": pa.array(flag, mask=rng.random(N) < 0.02),
            "d": pa.array(d, type=pa.date32(), mask=rng.random(N) < 0.02),
            "ts": pa.array(
                ts.astype("datetime64[us]"),
                type=pa.timestamp("us", tz="UTC"),
                mask=rng.random(N) < 0.02,
            ),
            "y": pa.array(rng.integers(0, 2, N).astype(np.int32)),
        }
    )


def test_spark_and_python_compilers_give_identical_features(spark, tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(random_table(), path)
    df = spark.read.parquet(str(path))
    fitted = fit_features(df, CONFIG, 20, "y")
    json.dumps(fitted)  # the fitted transform is plain data
    assert fitted["features"][5]["fitted"]["vocabulary"]  # min_count kept the frequent words only
    assert len(fitted["features"][5]["fitted"]["vocabulary"]) < len(WORDS)

    spark_rows = apply_transform(df, fitted).toArrow().to_pylist()
    py = compile_transform(fitted)
    python_rows = pq.read_table(path).to_pylist()
    assert len(spark_rows) == len(python_rows) == N
    entries = sum(len(f.get("parts", [0])) for f in CONFIG)
    mismatches = []
    for k, (sr, row) in enumerate(zip(spark_rows, python_rows, strict=True)):
        idx, val = py(row)
        assert len(idx) == entries
        if sr[INDEX_COL] != idx or sr[VALUE_COL] != val:
            diff = [
                (j, a, b, c, d)
                for j, (a, b, c, d) in enumerate(
                    zip(sr[INDEX_COL], idx, sr[VALUE_COL], val, strict=True)
                )
                if a != b or c != d
            ]
            mismatches.append((k, row, diff))
    assert not mismatches, mismatches[:3]


def test_tokens_follow_the_documented_canonical_form(spark, tmp_path: Path) -> None:
    fitted = {
        "seer_transform": 1,
        "hash_bits": 24,
        "label": "y",
        "input_schema": [
            {"name": "job", "type": "string"},
            {"name": "age", "type": "int"},
            {"name": "ok", "type": "boolean"},
        ],
        "features": [
            {"kind": "discrete", "column": "job"},
            {"kind": "bucket", "column": "age", "fitted": {"boundaries": [30.0, 50.0]}},
            {
                "kind": "combine",
                "of": [
                    {"kind": "discrete", "column": "job"},
                    {"kind": "bucket", "column": "age", "fitted": {"boundaries": [30.0, 50.0]}},
                ],
            },
            {"kind": "discrete", "column": "ok"},
        ],
    }
    py = compile_transform(fitted)
    assert py.tokens({"job": "admin", "age": 30, "ok": True}) == [
        ("job=admin", 1.0),
        ("age=b1", 1.0),
        ("job=admin&age=b1", 1.0),
        ("ok=true", 1.0),
    ]
    assert py.tokens({"job": None, "age": None, "ok": None})[2] == (
        "job=__missing__&age=__missing__",
        1.0,
    )
    # index = xxhash64(token, seed 42) mod 2^bits, the same value Spark's xxhash64 gives
    spark_hash = spark.sql("SELECT pmod(xxhash64('job=admin'), 16777216) AS h").first()["h"]
    assert (
        token_index("job=admin", 24)
        == spark_hash
        == py({"job": "admin", "age": 1, "ok": False})[0][0]
    )
    assert (
        dt.date(2024, 1, 1).weekday()
        == spark.sql("SELECT weekday(DATE'2024-01-01') AS w").first()["w"]
    )


def test_the_online_compiler_needs_neither_spark_nor_pandas() -> None:
    import subprocess
    import sys

    code = (
        "import sys, engine.features.online as o; "
        "bad = [m for m in ('pyspark', 'pandas', 'pyarrow', 'lightgbm') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
