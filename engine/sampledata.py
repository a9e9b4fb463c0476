"""Synthetic datasets for sample flows, tests and benchmarks (`import.sample`, `seer sample-data`).

Generated in fixed-size chunks with numpy and streamed to disk with pyarrow, so any row
count fits in memory; the same (dataset, rows, seed) always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.atomic import remove_path, temp_sibling
from engine.table_schema import TableSchema

CHUNK_ROWS = 100_000

_PURPOSES = np.array(
    [
        "debt_consolidation",
        "car",
        "home_improvement",
        "education",
        "medical",
        "small_business",
        "other",
    ]
)
_PURPOSE_P = np.array([0.36, 0.14, 0.13, 0.08, 0.07, 0.09, 0.13])
_HOMES = np.array(["rent", "own", "mortgage", "other"])
_HOME_P = np.array([0.42, 0.18, 0.37, 0.03])
_REGIONS = np.array([f"region_{i:02d}" for i in range(1, 13)])
_CHANNELS = np.array(["online", "branch", "broker"])
_CHANNEL_P = np.array([0.55, 0.3, 0.15])
_RISKY_REGIONS = {"region_03", "region_07"}
_DAY0 = np.datetime64("2022-01-01")
_DAYS = int((np.datetime64("2025-01-01") - _DAY0).astype(int))


@dataclass(frozen=True)
class Shift:
    """How applications change from a given month on (`seer sample-data --shift`): what the
    loop of monitoring, alerts and retraining is shown on. Rows before ``start`` are exactly
    the rows the unshifted dataset has."""

    start: dt.date  # the first day of the first shifted month ("from=2024-07")
    channel: str | None = None  # a new sales channel ...
    channel_share: float = 0.35  # ... taking this share of the shifted applications ...
    channel_odds: float = 4.0  # ... whose applicants' odds of default are this many times higher
    rate: float = 0.0  # points added to every shifted interest rate
    default_odds: float = 1.0  # every shifted applicant's odds of default multiplied by this

    def describe(self) -> str:
        parts = [f"from {self.start:%Y-%m}"]
        if self.channel:
            parts.append(
                f"{self.channel_share:.0%} of applications through a new channel "
                f"{self.channel!r} with {self.channel_odds:g}x the odds of default"
            )
        if self.rate:
            parts.append(f"interest rates {self.rate:+g} points")
        if self.default_odds != 1:
            parts.append(f"odds of default x{self.default_odds:g}")
        return ", ".join(parts)


SHIFT_HELP = (
    "comma-separated KEY=VALUE: from=YYYY-MM (required: the first shifted month), "
    "channel=NAME (a new channel), channel_share=0.35, channel_odds=4, rate=+2 (interest rate "
    "points), default_odds=1.5; e.g. from=2024-07,channel=partner,rate=+2"
)


def parse_shift(text: str) -> Shift:
    """``"from=2024-07,channel=partner,rate=+2"`` → a Shift; ValueError naming what is wrong."""
    values: dict[str, str] = {}
    for item in str(text).split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--shift: {item.strip()!r} is not KEY=VALUE ({SHIFT_HELP}).")
        values[key.strip()] = value.strip()
    known = {f.name for f in fields(Shift)} - {"start"} | {"from"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"--shift: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(known))}."
        )
    if "from" not in values:
        raise ValueError(f"--shift needs from=YYYY-MM, the first shifted month ({SHIFT_HELP}).")
    try:
        start = dt.datetime.strptime(values.pop("from"), "%Y-%m").date()
    except ValueError:
        raise ValueError("--shift: from= takes a month as YYYY-MM, e.g. from=2024-07.") from None
    numbers: dict[str, float] = {}
    for key in ("channel_share", "channel_odds", "rate", "default_odds"):
        if key in values:
            try:
                numbers[key] = float(values[key])
            except ValueError:
                raise ValueError(f"--shift: {key}={values[key]} is not a number.") from None
            if not math.isfinite(numbers[key]):
                raise ValueError(f"--shift: {key} must be a finite number.")
    first, last = _DAY0.astype(dt.date), (_DAY0 + _DAYS - 1).astype(dt.date)
    if not first < start <= last:
        raise ValueError(
            f"--shift: from={start:%Y-%m} shifts nothing or everything: applications run from "
            f"{first:%Y-%m} to {last:%Y-%m}, so pick a month after {first:%Y-%m} and up to {last:%Y-%m}."
        )
    shift = Shift(start, values.get("channel"), **numbers)
    if not 0 < shift.channel_share <= 1:
        raise ValueError("--shift: channel_share is a share of applications in (0, 1].")
    if shift.channel_odds <= 0 or shift.default_odds <= 0:
        raise ValueError("--shift: channel_odds and default_odds must be positive (1: no change).")
    return shift


def _apply_shift(
    rng: np.random.Generator, shift: Shift, days: np.ndarray, rate: np.ndarray, channel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shifted rows' rates and channels, and what their log-odds of default gain. Its own
    random numbers come from a child of the chunk's seed, so the chunk's other draws (and so
    every row before the shift) stay as the unshifted dataset has them."""
    n = len(days)
    extra = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])  # type: ignore[attr-defined]
    shifted = days >= int((np.datetime64(shift.start) - _DAY0).astype(int))
    rate = np.where(shifted, np.round(np.clip(rate + shift.rate, 3, 36), 2), rate)
    gain = np.where(shifted, math.log(shift.default_odds), 0.0)
    if shift.channel:
        moved = shifted & (extra.random(n) < shift.channel_share)
        channel = np.where(moved, shift.channel, channel).astype(object)
        gain = gain + np.where(moved, math.log(shift.channel_odds), 0.0)
    return rate, channel, gain


def _credit_risk_chunk(
    rng: np.random.Generator, start: int, n: int, shift: Shift | None = None
) -> pa.Table:
    age = np.clip(np.round(rng.normal(41, 12, n)), 18, 80).astype(np.int32)
    income = np.round(np.exp(rng.normal(10.8, 0.55, n)) * (0.7 + 0.012 * np.minimum(age, 55)), 2)
    employment = np.round(np.clip((age - 18) * rng.uniform(0, 0.9, n), 0, 45), 1)
    home = _HOMES[rng.choice(len(_HOMES), n, p=_HOME_P)]
    home = np.where((age < 27) & (rng.random(n) < 0.5), "rent", home)
    purpose = _PURPOSES[rng.choice(len(_PURPOSES), n, p=_PURPOSE_P)]
    loan = np.round(np.clip(rng.lognormal(9.3, 0.7, n), 500, 100_000), -1)
    term = np.where(rng.random(n) < 0.3, 60, 36).astype(np.int32)
    score = np.clip(np.round(rng.normal(680, 70, n)), 300, 850).astype(np.int32)
    open_accounts = rng.poisson(6, n).astype(np.int32)
    delinquencies = rng.poisson(np.where(score < 620, 0.9, 0.2), n).astype(np.int32)
    dti = np.round(np.clip(rng.beta(2.2, 5.5, n) + 0.12 * (loan / income), 0, 1.5), 4)
    rate = np.round(
        np.clip(24 - 0.02 * (score - 600) + rng.normal(0, 1.5, n) + 1.2 * (term == 60), 3, 36), 2
    )
    region = _REGIONS[rng.integers(0, len(_REGIONS), n)]
    channel = _CHANNELS[rng.choice(len(_CHANNELS), n, p=_CHANNEL_P)]
    days = rng.integers(0, _DAYS, n)
    gain: np.ndarray | float = 0.0
    if shift is not None:
        rate, channel, gain = _apply_shift(rng, shift, days, rate, channel)

    score_missing = rng.random(n) < 0.04
    logit = (
        -2.3
        - 0.011 * (np.where(score_missing, 640, score) - 660)
        + 0.45 * score_missing
        + 2.2 * (dti - 0.3)
        + 0.42 * delinquencies
        - 0.35 * np.log(income / 50_000)
        + 0.35 * (loan / income > 0.35)
        + 0.03 * (rate - 14)
        # interactions: the signal a model only finds with crosses or trees
        + 1.3 * ((purpose == "small_business") & (dti > 0.4))
        + 0.9 * ((age < 26) & (home == "rent"))
        + 1.0 * ((term == 60) & (score < 610))
        + 1.1 * ((channel == "broker") & np.isin(region, list(_RISKY_REGIONS)))
        - 0.5 * ((home == "mortgage") & (employment > 10))
        + gain
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)

    def masked(values: np.ndarray, p: float) -> pa.Array:
        return pa.array(values, mask=rng.random(n) < p)

    ids = np.char.add("C", np.char.zfill(np.arange(start, start + n).astype(str), 9))
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "application_date": pa.array(_DAY0 + days.astype("timedelta64[D]"), pa.date32()),
            "age": pa.array(age, pa.int32()),
            "income": masked(income, 0.05),
            "employment_years": masked(employment, 0.03),
            "home_ownership": pa.array(home, pa.string()),
            "loan_purpose": pa.array(purpose, pa.string()),
            "loan_amount": pa.array(loan, pa.float64()),
            "term_months": pa.array(term, pa.int32()),
            "interest_rate": pa.array(rate, pa.float64()),
            "credit_score": pa.array(score, pa.int32(), mask=score_missing),
            "num_open_accounts": pa.array(open_accounts, pa.int32()),
            "num_delinquencies": pa.array(delinquencies, pa.int32()),
            "debt_to_income": pa.array(dti, pa.float64()),
            "region": masked(region.astype(object), 0.02).cast(pa.string()),
            "channel": pa.array(channel, pa.string()),
            "default": pa.array(label, pa.int32()),
        }
    )


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    label: str
    chunk: Callable[..., pa.Table]  # (rng, first row number, rows, shift=None)


DATASETS: dict[str, Dataset] = {
    "credit_risk": Dataset(
        "credit_risk",
        "Loan applications: mixed numeric and categorical columns with missing values, an "
        "application date for out-of-time splits, and a 0/1 `default` label whose signal "
        "includes interactions between columns (about 17% positive).",
        "default",
        _credit_risk_chunk,
    ),
}


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"Unknown sample dataset {name!r}; available: {known}.") from None


def iter_chunks(name: str, rows: int, seed: int, shift: Shift | None = None) -> Iterator[pa.Table]:
    ds = _dataset(name)
    extra = {} if shift is None else {"shift": shift}
    for i, start in enumerate(range(0, rows, CHUNK_ROWS)):
        rng = np.random.default_rng([seed, i])
        yield ds.chunk(rng, start, min(CHUNK_ROWS, rows - start), **extra)


def sample_schema(name: str) -> TableSchema:
    table = _dataset(name).chunk(np.random.default_rng(0), 0, 1)
    return TableSchema.from_arrow(table.schema)


def generate_to_parquet(
    name: str,
    rows: int,
    seed: int,
    path: str | Path,
    check: Callable[[], None] | None = None,
    shift: Shift | None = None,
) -> Path:
    return write_sample(name, rows, seed, path, fmt="parquet", check=check, shift=shift)


_SQLITE_TYPES = {
    "string": "TEXT",
    "int": "INTEGER",
    "bigint": "INTEGER",
    "double": "REAL",
    "date": "TEXT",
}


def _write_sqlite(
    name: str,
    rows: int,
    seed: int,
    out: Path,
    check: Callable[[], None] | None,
    shift: Shift | None = None,
) -> Path:
    """A SQLite database with one table named after the dataset (dates as ISO text)."""
    import sqlite3

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(out)
    schema = sample_schema(name)
    cols = ", ".join(f'"{c.name}" {_SQLITE_TYPES[c.type]}' for c in schema.columns)
    try:
        with sqlite3.connect(tmp) as conn:
            conn.execute(f'CREATE TABLE "{name}" ({cols})')
            marks = ", ".join("?" for _ in schema.columns)
            for table in iter_chunks(name, rows, seed, shift):
                if check is not None:
                    check()
                data = table.to_pylist()
                conn.executemany(
                    f'INSERT INTO "{name}" VALUES ({marks})',
                    [
                        tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in r.values())
                        for r in data
                    ],
                )
        tmp.replace(out)
    finally:
        remove_path(tmp)
    return out


def write_sample(
    name: str,
    rows: int,
    seed: int,
    path: str | Path,
    fmt: str | None = None,
    check: Callable[[], None] | None = None,
    shift: Shift | None = None,
) -> Path:
    """Stream a generated dataset to one CSV, Parquet or SQLite file (by extension: .parquet,
    .db/.sqlite, anything else CSV; or ``fmt``).

    Written under a temporary name and renamed when complete.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1. Got {rows}.")
    out = Path(path)
    suffix = out.suffix.lower()
    fmt = fmt or {".parquet": "parquet", ".db": "sqlite", ".sqlite": "sqlite"}.get(suffix, "csv")
    if fmt == "sqlite":
        return _write_sqlite(name, rows, seed, out, check, shift)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(out)
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    try:
        for table in iter_chunks(name, rows, seed, shift):
            if check is not None:
                check()
            if writer is None:
                if fmt == "parquet":
                    writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
                else:
                    writer = pacsv.CSVWriter(tmp, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
        writer = None
        tmp.replace(out)
    finally:
        if writer is not None:
            writer.close()
        remove_path(tmp)
    return out
