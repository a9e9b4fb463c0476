"""Shared pieces of the model operators: binary labels, driver collection limits, default
feature transforms, deterministic validation splits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from engine.opapi import INDEX_COL, VALUE_COL, OperatorError, RunContext
from engine.opapi import LABEL as LABEL  # re-exported: the model operators' label param
from engine.opapi import POSITIVE as POSITIVE

T = TypeVar("T")

INTEGER = ("tinyint", "smallint", "int", "bigint")
NUMERIC = (*INTEGER, "float", "double")


def col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def resolve_label(
    df: Any, label: str, positive: str | None, where: str
) -> tuple[Any, Any, list[Any]]:
    """Check a label column and pick its positive class.

    Returns (a 0/1 integer column expression, the positive value, the two values). 0/1 and
    booleans have positive 1/true; with two strings ``positive`` must name one.
    """
    from pyspark.sql import functions as F

    if label not in df.columns:
        raise OperatorError(
            f'The label column "{label}" of {where} is not in its input. Columns: {", ".join(df.columns)}.'
        )
    rows = (
        df.groupBy(col(label).alias("v")).count().orderBy(F.col("count").desc()).limit(12).collect()
    )
    nulls = sum(r["count"] for r in rows if r["v"] is None)
    values = [r["v"] for r in rows if r["v"] is not None]
    if nulls:
        raise OperatorError(
            f'The label column "{label}" of {where} has {nulls:,} missing values. Remove those rows '
            f"(clean.filter with `{label}` IS NOT NULL) before training."
        )
    if len(values) < 2:
        only = values[0] if values else "nothing"
        raise OperatorError(
            f'The label column "{label}" of {where} holds only {only!r}: a model needs rows of both classes.'
        )
    if len(values) > 2:
        shown = ", ".join(repr(v) for v in sorted(values, key=str)[:5])
        raise OperatorError(
            f'The label column "{label}" of {where} has {len(values)}{"+" if len(values) >= 12 else ""} distinct '
            f"values ({shown}); a binary label has exactly two. Seer models binary classification; "
            "map the label to two classes first (e.g. with transform.sql)."
        )
    a, b = sorted(values, key=str)
    if positive is not None and positive != "":
        match = [v for v in values if str(v).lower() == str(positive).lower()]
        if not match:
            raise OperatorError(
                f"The 'positive' parameter of {where} is \"{positive}\", but the label column "
                f'"{label}" holds {a!r} and {b!r}. Set it to one of them.'
            )
        pos = match[0]
    elif all(isinstance(v, bool) for v in values):
        pos = True
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and {
        a,
        b,
    } == {0, 1}:
        pos = 1
    else:
        raise OperatorError(
            f"The label column \"{label}\" of {where} holds {a!r} and {b!r}: set the 'positive' parameter to "
            "the value of the positive class."
        )
    return (col(label) == F.lit(pos)).cast("int"), pos, [a, b]


def driver_limit_bytes(spark: Any) -> int:
    """What may be collected to the driver: the smaller of spark.driver.maxResultSize and a
    quarter of the memory this machine has free."""
    import psutil

    text = spark.conf.get("spark.driver.maxResultSize", "1g").strip().lower()
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    max_result = int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)
    if max_result <= 0:
        max_result = 2**62
    return min(max_result, psutil.virtual_memory().available // 4)


def check_collect(
    ctx: RunContext, where: str, rows: int, bytes_per_row: float, sample_param: str
) -> None:
    need = rows * bytes_per_row
    limit = driver_limit_bytes(ctx.spark)
    if need > limit:
        raise OperatorError(
            f"{where} would bring about {need / 2**20:,.0f} MB ({rows:,} rows) to the driver, over its limit of "
            f"{limit / 2**20:,.0f} MB. Set '{sample_param}' to train on a sample, give the driver more memory "
            "(SEER_DRIVER_MEMORY), or train on the cluster."
        )


def has_features(df: Any) -> bool:
    return INDEX_COL in df.columns and VALUE_COL in df.columns


def default_lr_features(df: Any, label: str, exclude: list[str]) -> list[dict[str, Any]]:
    """The transform train.hdlr fits on a raw table: discrete text, booleans and small integers;
    ten quantile buckets for numbers; year, month and weekday of dates."""
    out: list[dict[str, Any]] = []
    for f in df.schema.fields:
        name, t = f.name, f.dataType.simpleString()
        if name in (label, ROW_KEY) or name in exclude:
            continue
        if t in ("string", "boolean"):
            out.append({"kind": "discrete", "column": name, "min_count": 5})
        elif t in NUMERIC or t.startswith("decimal"):
            out.append({"kind": "bucket", "column": name, "buckets": 10})
        elif t in ("date", "timestamp", "timestamp_ntz"):
            out.append({"kind": "datetime", "column": name, "parts": ["year", "month", "weekday"]})
    if not out:
        raise OperatorError(f'The input has no feature columns besides the label "{label}".')
    return out


_OPENMP_THREAD: Any = None
_OPENMP_LOCK = threading.Lock()


def on_openmp_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on the process's one thread for OpenMP work (LightGBM) and return its result.

    GNU OpenMP keeps a team of threads per calling thread. Once a second thread of a process has
    run a parallel region, it counts more threads than cores and stops spin-waiting between
    regions; LightGBM opens hundreds of short regions per fit and ran 3-4x slower that way when
    flow nodes (each on its own worker thread) trained one after another. Routing every LightGBM
    call through one long-lived thread keeps a single team."""
    global _OPENMP_THREAD
    with _OPENMP_LOCK:
        if _OPENMP_THREAD is None:
            _OPENMP_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seer-openmp")
    return _OPENMP_THREAD.submit(fn).result()


def single_blas_thread() -> Any:
    """Driver-side fits on sparse data gain nothing from BLAS threads, and idle BLAS threads spin
    on the cores other training (LightGBM's OpenMP threads) needs right after."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def stable_order(df: Any) -> Any:
    """The rows in an order fixed by their content (a hash, then the columns themselves), so
    that data collected to the driver arrives the same way on any master and partitioning —
    driver-side training then gives bit-identical models."""
    from pyspark.sql import functions as F

    cols = [col(c) for c in df.columns]
    return df.orderBy(F.xxhash64(F.lit(17), *cols), *cols)


#: The row identity a feature node carries next to the feature vector (see row_identity).
ROW_KEY = "row_key"
ROW_KEY_SEED = 2019


def source_columns(df: Any) -> list[str]:
    """The columns that describe a row as it came from the source: all but the derived feature
    vector (features_idx, features_val) and the carried row identity. (A feature table made
    before feature nodes carried ``row_key`` has nothing else to tell its rows apart: all of
    its columns count.)"""
    if has_features(df) and ROW_KEY not in df.columns:
        return list(df.columns)
    return [c for c in df.columns if c not in (INDEX_COL, VALUE_COL, ROW_KEY)]


def row_identity(df: Any) -> Any:
    """A 64-bit identity of each row that does not depend on the features computed from it:
    the carried ``row_key`` column when the table has one (feature nodes add it), else a hash
    of the row's source columns. Hold-outs are drawn from it, so the same input rows give the
    same validation rows whatever features were added."""
    from pyspark.sql import functions as F

    if ROW_KEY in df.columns:
        return col(ROW_KEY)
    return F.xxhash64(F.lit(ROW_KEY_SEED), *[col(c) for c in source_columns(df)])


def with_row_key(df: Any) -> Any:
    """The table with its row identity as the ``row_key`` column (kept when already there)."""
    if ROW_KEY in df.columns:
        return df
    return df.withColumn(ROW_KEY, row_identity(df))


def holdout_draw(df: Any, seed: int) -> Any:
    """Each row's seeded uniform draw in [0, 1), a hash of its row identity."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.lit(seed), row_identity(df)), F.lit(2**53)) / float(2**53)


def holdout(df: Any, share: float, seed: int) -> tuple[Any, Any]:
    """A deterministic split for early stopping and tuning: about ``share`` of the rows, picked
    by their row identity (see row_identity), are held out."""
    from pyspark.sql import functions as F

    marked = df.withColumn("__seer_h", holdout_draw(df, seed))
    return (
        marked.where(F.col("__seer_h") >= share).drop("__seer_h"),
        marked.where(F.col("__seer_h") < share).drop("__seer_h"),
    )


def hash_sample(df: Any, share: float, seed: int) -> Any:
    """About ``share`` of the rows, picked by a hash of their content (the same on any
    partitioning and master)."""
    if share >= 1.0:
        return df
    return holdout(df, share, seed)[1]


def transform_of_input(ctx: RunContext, port: str) -> dict[str, Any] | None:
    """The fitted transform that produced an input table's feature vector, if any."""
    import json

    ref = ctx.input_lineage(port).get("transform")
    if not ref:
        return None
    return json.loads((ctx.artifact_path(ref) / "transform.json").read_text("utf-8"))
