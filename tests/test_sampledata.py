"""The credit-risk generator: deterministic, streamed, with interactions in its label."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.sampledata import CHUNK_ROWS, iter_chunks


def table(rows: int, seed: int) -> pa.Table:
    return pa.concat_tables(list(iter_chunks("credit_risk", rows, seed)))


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert table(5000, 3).equals(table(5000, 3))
    assert not table(5000, 3).equals(table(5000, 4))


def test_row_counts_span_chunks_exactly() -> None:
    chunks = list(iter_chunks("credit_risk", CHUNK_ROWS + 7, 1))
    assert [c.num_rows for c in chunks] == [CHUNK_ROWS, 7]
    ids = pa.concat_tables(chunks).column("customer_id").to_pylist()
    assert len(set(ids)) == CHUNK_ROWS + 7


def test_missing_values_and_label_with_interaction_signal() -> None:
    df = table(200_000, 7).to_pandas()
    assert 0.12 < df["default"].mean() < 0.25
    for col in ("income", "credit_score", "region", "employment_years"):
        assert 0.005 < df[col].isna().mean() < 0.08
    # small_business AND high debt-to-income defaults far more than either alone suggests
    sb = df["loan_purpose"] == "small_business"
    hi = df["debt_to_income"] > 0.4
    rate = lambda m: df.loc[m, "default"].mean()  # noqa: E731
    lift_both = rate(sb & hi) / rate(~sb & ~hi)
    lift_sb, lift_hi = rate(sb & ~hi) / rate(~sb & ~hi), rate(~sb & hi) / rate(~sb & ~hi)
    assert lift_both > 1.3 * lift_sb * lift_hi
    assert np.isfinite(df["loan_amount"]).all()


def test_shift_changes_only_the_months_from_its_start() -> None:
    import datetime as dt

    import pytest

    from engine.sampledata import parse_shift

    shift = parse_shift("from=2024-07,channel=partner,rate=+2,default_odds=1.5")
    plain = table(30_000, 5).to_pandas()
    moved = pa.concat_tables(list(iter_chunks("credit_risk", 30_000, 5, shift))).to_pandas()
    before = plain["application_date"] < dt.date(2024, 7, 1)
    assert moved[before.to_numpy()].equals(plain[before])  # earlier months: the very same rows
    after, late = moved[~before.to_numpy()], plain[~before]
    assert 0.3 < (after["channel"] == "partner").mean() < 0.4
    assert "partner" not in set(plain["channel"])
    assert abs((after["interest_rate"] - late["interest_rate"]).mean() - 2) < 0.05
    partner = after["channel"] == "partner"
    assert after.loc[partner, "default"].mean() > 1.6 * after.loc[~partner, "default"].mean()
    assert after.loc[~partner, "default"].mean() > late["default"].mean()  # odds x1.5 for all
    for bad, word in [
        ("channel=partner", "from=YYYY-MM"),
        ("from=2024-7x", "YYYY-MM"),
        ("from=2030-01", "applications run from 2022-01 to 2024-12"),
        ("from=2024-07,rate=two", "rate=two is not a number"),
        ("from=2024-07,colour=red", "unknown key 'colour'"),
        ("from=2024-07,channel_share=2", "channel_share"),
    ]:
        with pytest.raises(ValueError, match=word):
            parse_shift(bad)
