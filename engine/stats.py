"""Previews and column statistics of table outputs, read straight from their Parquet files.

Statistics are computed lazily, in one pass over the file that samples rows systematically
(every k-th row, so the same table always gives the same figures), the first time they are
asked for; then they are stored inside the output folder (``_seer_stats.json``, a name Spark
and pyarrow skip) and reused by every run that shares the output. No Spark job is started.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from engine.atomic import atomic_write_text
from engine.table_schema import arrow_type_name

STATS_FILE = "_seer_stats.json"
STATS_VERSION = 2
SAMPLE_ROWS = 100_000
TOP_VALUES = 10
HISTOGRAM_BINS = 20
QUANTILE_POINTS = 101  # percentiles 0..100 of a number column (previews of quantile buckets)


class OutputNotFound(LookupError):
    """No such node output in the workspace."""


def _dataset(path: Path) -> ds.Dataset:
    return ds.dataset(str(path), format="parquet", partitioning="hive")


def _json_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (np.integer, np.floating)):
        return _json_value(v.item())
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return v


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _orderable(t: pa.DataType) -> bool:
    return (
        _is_numeric(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_temporal(t)
        or pa.types.is_boolean(t)
    )


def compute_stats(path: Path, sample_rows: int = SAMPLE_ROWS) -> dict[str, Any]:
    """Statistics of every column of a Parquet table (one pass)."""
    dataset = _dataset(path)
    schema = dataset.schema
    total = dataset.count_rows()
    step = max(1, math.ceil(total / sample_rows)) if total else 1
    acc = {
        f.name: {"missing": 0, "min": None, "max": None, "sum": 0.0, "finite": 0} for f in schema
    }
    samples: list[pa.RecordBatch] = []
    offset = 0
    for batch in dataset.to_batches():
        n = batch.num_rows
        if n == 0:
            continue
        first = (-offset) % step
        samples.append(batch.take(pa.array(np.arange(first, n, step))))
        offset += n
        for f in schema:
            col = batch.column(f.name)
            a = acc[f.name]
            a["missing"] += col.null_count
            if _is_numeric(f.type) and pa.types.is_floating(f.type):
                col = pc.if_else(pc.is_finite(col), col, None)
            if _orderable(f.type) and col.null_count < len(col):
                mm = pc.min_max(col).as_py()
                a["min"] = mm["min"] if a["min"] is None else min(a["min"], mm["min"])
                a["max"] = mm["max"] if a["max"] is None else max(a["max"], mm["max"])
            if _is_numeric(f.type):
                s = pc.sum(col).as_py()
                a["sum"] += float(s or 0)
                a["finite"] += len(col) - col.null_count
    sample = pa.Table.from_batches(samples, schema=schema) if samples else schema.empty_table()
    columns = [_column_stats(f, acc[f.name], sample.column(f.name), total) for f in schema]
    return {
        "version": STATS_VERSION,
        "rows": total,
        "sampled_rows": sample.num_rows,
        "sample_step": step,
        "note": (
            "count, missing, min, max and mean cover every row; distinct, top values and histograms "
            f"are computed on every {step}-th row"
            if step > 1
            else "computed on every row"
        ),
        "columns": columns,
    }


def _column_stats(f: pa.Field, a: dict[str, Any], col: Any, total: int) -> dict[str, Any]:
    """One column's entry: counts, range and mean over every row (``a``); distinct values,
    histogram, quantiles and top values from the sample ``col``."""
    entry: dict[str, Any] = {
        "name": f.name,
        "type": arrow_type_name(f.type),
        "count": total - a["missing"],
        "missing": a["missing"],
        "min": _json_value(a["min"]),
        "max": _json_value(a["max"]),
    }
    if _orderable(f.type):
        entry["distinct"] = pc.count_distinct(col, mode="only_valid").as_py()
    if _is_numeric(f.type):
        entry["mean"] = a["sum"] / a["finite"] if a["finite"] else None
        values = col.drop_null().to_numpy(zero_copy_only=False).astype(float)
        values = values[np.isfinite(values)]
        if len(values) and a["min"] is not None:
            lo, hi = float(a["min"]), float(a["max"])
            counts, edges = np.histogram(
                values, bins=HISTOGRAM_BINS, range=(lo, hi if hi > lo else lo + 1)
            )
            entry["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
            entry["quantiles"] = np.quantile(values, np.linspace(0, 1, QUANTILE_POINTS)).tolist()
    few_values = not _is_numeric(f.type) or (entry.get("distinct") or 0) <= TOP_VALUES
    all_unique = entry.get("distinct") == len(col) - col.null_count and len(col) > TOP_VALUES
    if few_values and not all_unique and _orderable(f.type) and len(col):
        vc = pc.value_counts(col.drop_null()).to_pylist()
        vc.sort(key=lambda d: (-d["counts"], str(d["values"])))
        entry["top"] = [
            {"value": _json_value(d["values"]), "count": d["counts"]} for d in vc[:TOP_VALUES]
        ]
    return {k: _json_value(v) for k, v in entry.items()}


def table_stats(path: str | Path) -> dict[str, Any]:
    """Stored statistics of a table output, computed on first request."""
    folder = Path(path)
    stored = folder / STATS_FILE
    if stored.exists():
        data = json.loads(stored.read_text("utf-8"))
        if data.get("version") == STATS_VERSION:
            return data
    data = compute_stats(folder)
    atomic_write_text(stored, json.dumps(data, ensure_ascii=False))
    return data


def preview_rows(path: str | Path, rows: int = 50) -> dict[str, Any]:
    """The first rows of a table output, JSON-ready."""
    dataset = _dataset(Path(path))
    head = dataset.head(rows)
    return {
        "columns": [{"name": f.name, "type": arrow_type_name(f.type)} for f in dataset.schema],
        "rows": [_json_value(r) for r in head.to_pylist()],
        "total_rows": dataset.count_rows(),
    }


def _not_saved(node_id: str, port: str, run_id: str) -> OutputNotFound:
    return OutputNotFound(
        f'The {port} output of node "{node_id}" in run {run_id} went to its consumers without '
        "being saved (seer run keeps only what is needed). Run the flow with --keep-all, "
        "or in the studio, to keep it."
    )


def find_output(
    store: Any, run_id: str, node_id: str, port: str | None
) -> tuple[str, dict[str, Any]]:
    """The (port, output record) of a node's table output in a run ('latest' = newest run
    in which the node has outputs)."""
    runs = [r["run_id"] for r in store.list_runs(limit=200)] if run_id == "latest" else [run_id]
    unsaved: OutputNotFound | None = None
    for rid in runs:
        outputs = store.outputs_of(rid, node_id)
        if not outputs:
            continue
        if run_id == "latest" and all(o.get("transient") for o in outputs.values()):
            # handed on unsaved in that run; an earlier run may have kept them
            unsaved = unsaved or _not_saved(node_id, port or next(iter(outputs)), rid)
            continue
        tables = {p: o for p, o in outputs.items() if o["type"] == "table"}
        if port is None:
            if not tables:
                raise OutputNotFound(f'Node "{node_id}" has no table output.')
            port = next(iter(tables))
        if port not in tables:
            raise OutputNotFound(
                f'Node "{node_id}" has no table output "{port}" (its tables: {", ".join(tables) or "none"}).'
            )
        if tables[port].get("transient"):
            raise _not_saved(node_id, port, rid)
        return port, tables[port]
    if unsaved is not None:
        raise unsaved
    where = "any run" if run_id == "latest" else f"run {run_id}"
    raise OutputNotFound(f'No outputs of node "{node_id}" in {where} of this workspace.')
