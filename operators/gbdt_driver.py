"""train.gbdt on the driver: the collected rows, their validation split by row identity, the
tuning trials and the final fit with LightGBM."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.opapi import (
    OperatorError,
    RunContext,
    binary_report,
    collect_gbdt_columns,
    encode_gbdt_table,
)
from operators.modeling import check_collect, row_identity

MAX_CATEGORIES = 1000


@dataclass
class DriverData:
    """The collected rows: all of them (x, y), the part fitted and the part scored (the same
    arrays when every row is scored out of fold), the folds, and the validation rows'
    identities."""

    x: np.ndarray
    y: np.ndarray
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    val_keys: np.ndarray


def collect_driver_data(
    ctx: RunContext,
    where: str,
    train: Any,
    valid: Any,
    y_col: Any,
    spec: list[dict[str, Any]],
    params: Mapping[str, Any],
    rows: int,
) -> tuple[DriverData, list[dict[str, Any]]]:
    """One plain projection crosses to the driver; categories, the validation split and a
    content-fixed row order are worked out there in numpy. Sorting, hashing and encoding in
    Spark cost a shuffle and large generated code that the JVM then compiles on the same cores
    LightGBM trains on. Returns the data and the spec with its categories."""
    check_collect(ctx, where, rows, driver_bytes_per_row(spec), "sample_rows")
    table = collect_gbdt_columns(train, y_col, spec, row_identity(train))
    spec = categories_of(table, spec)
    keys = table.column("__row").to_numpy().astype(np.int64).view(np.uint64)
    x, y = encode_gbdt_table(table, spec)
    del table
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    if valid is None and params["tune_folds"] > 1:
        x, y, keys = in_content_order(x, y, keys)
        folds = content_folds(keys, params["tune_folds"], params["seed"])
        data = DriverData(x, y, x, y, x, y, folds, keys)  # every row is scored out of fold
    elif valid is None:
        x, y, keys, n_fit = ordered_holdout(x, y, keys, 0.1, params["seed"])
        data = DriverData(x, y, x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:], [], keys[n_fit:])
    else:
        x, y, _ = in_content_order(x, y, keys)
        vtable = collect_gbdt_columns(valid, y_col, spec, row_identity(valid))
        x_val, y_val = encode_gbdt_table(vtable, spec)
        val_keys = vtable.column("__row").to_numpy().astype(np.int64).view(np.uint64)
        data = DriverData(x, y, x, y, x_val, y_val, [], val_keys)
    check_validation_rows(where, data, valid is not None)
    return data, spec


def fingerprint(keys: np.ndarray) -> str:
    """The validation rows named by their count and the XOR of their row identities: two
    models with the same fingerprint were validated on the same rows."""
    xor = int(np.bitwise_xor.reduce(keys.astype(np.uint64))) if len(keys) else 0
    return f"{len(keys)}:{xor:016x}"


def tune(
    ctx: RunContext,
    data: DriverData,
    base: dict[str, Any],
    trials_spec: list[tuple[str, dict[str, Any], int | None]],
    max_rounds: int,
    names: list[str],
    cat_idx: list[int],
) -> tuple[list[dict[str, Any]], Any]:
    """Train each parameter set (early stopping on validation, or k-fold), score it; returns
    the trials and (auc, params, rounds, booster, scores) of the best."""
    import lightgbm as lgb

    dfit = lgb.Dataset(
        data.x_fit, data.y_fit, feature_name=names, categorical_feature=cat_idx, free_raw_data=False
    )
    dval = None if data.folds else lgb.Dataset(data.x_val, data.y_val, reference=dfit)
    trials, best = [], None
    for name, cand, rounds in trials_spec:
        ctx.check_cancelled()
        stop = [] if rounds else [lgb.early_stopping(50, verbose=False)]
        fit_start = time.perf_counter()
        if data.folds:
            booster = None
            n_iter, scores = cross_validate(
                {**base, **cand}, dfit, data.x, data.folds, rounds or max_rounds, stop
            )
        else:  # with fixed rounds nothing is watched: exactly LightGBM's own fit
            booster = lgb.train(
                {**base, **cand},
                dfit,
                num_boost_round=rounds or max_rounds,
                valid_sets=[dval] if stop else None,
                callbacks=stop,
            )
            n_iter = booster.best_iteration or booster.current_iteration()
            scores = booster.predict(data.x_val, num_iteration=n_iter)
        fit_seconds = time.perf_counter() - fit_start
        auc = binary_report(data.y_val, scores, 0.5)["auc"]
        trials.append(
            {
                "name": name,
                "params": cand,
                "rounds": n_iter,
                "valid_auc": auc,
                "seconds": round(fit_seconds, 4),
            }
        )
        scored = f"{len(data.folds)}-fold validation" if data.folds else "validation"
        ctx.log(f"{name}: {n_iter} rounds, {scored} AUC {auc:.4f}")
        if best is None or auc > best[0]:
            best = (auc, cand, n_iter, booster, scores)
    return trials, best


def refit(
    data: DriverData, params: dict[str, Any], rounds: int, names: list[str], cat_idx: list[int]
) -> Any:
    """The chosen settings fitted on every training row."""
    import lightgbm as lgb

    dall = lgb.Dataset(data.x, data.y, feature_name=names, categorical_feature=cat_idx)
    return lgb.train(params, dall, num_boost_round=rounds)


def driver_bytes_per_row(spec: list[dict[str, Any]]) -> float:
    """Driver memory per training row: the collected Arrow values and the float64 matrix built
    from them (both held for a moment), text values counted at 16 bytes, and the row identity."""
    return 9 + sum(8 + (16 if c["categorical"] else 8) for c in spec)


def categories_of(table: Any, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each categorical column's values: the MAX_CATEGORIES most frequent (ties by value), in
    sorted order; rarer values score as missing."""
    import pyarrow.compute as pc

    out = []
    for c in spec:
        if c["categorical"]:
            counts = pc.value_counts(table.column(c["name"]).drop_null()).to_pylist()
            top = sorted(counts, key=lambda d: (-d["counts"], d["values"]))[:MAX_CATEGORIES]
            c = {**c, "categories": sorted(d["values"] for d in top)}
        out.append(c)
    return out


def row_hashes(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash of each row's content (splitmix64 steps over the values' bit patterns,
    -0.0 read as 0.0 and every NaN alike): the same rows get the same hashes whatever order
    or partitioning they came from."""
    canonical = np.where(np.isnan(x), np.nan, x + 0.0)
    bits = np.ascontiguousarray(canonical).view(np.uint64)
    h = _mix64(np.full(len(y), seed, dtype=np.uint64))
    for j in range(bits.shape[1]):
        h = _mix64(h ^ bits[:, j])
    return _mix64(h ^ y.astype(np.uint64))


def _mix64(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _key_hashes(keys: np.ndarray, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each row identity."""
    return _mix64(keys.astype(np.uint64) ^ _mix64(np.full(1, seed, dtype=np.uint64)))


def in_content_order(
    x: np.ndarray, y: np.ndarray, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows sorted by their content hash, so that driver-side training gives bit-identical
    models on any master and partitioning (equal hashes are equal rows, barring a 2^-64
    collision)."""
    order = np.lexsort((keys, row_hashes(x, y, 17)))
    return x[order], y[order], keys[order]


def check_validation_rows(where: str, data: DriverData, linked: bool) -> None:
    """Tuning, early stopping and the KS threshold need rows of both classes on each side."""

    def both(labels: np.ndarray) -> bool:
        return len(labels) > 0 and 0 < int(labels.sum()) < len(labels)

    def described(labels: np.ndarray) -> str:
        return f"{len(labels):,} rows, {int(labels.sum()):,} of them positive"

    folds = data.folds
    fix = "Train on more rows, or lower 'tune_folds'." if folds else "Train on more rows."
    if linked:
        fix = "Link a 'valid' table with rows of both classes."
        parts = [("the training rows", data.y_fit), ("the 'valid' rows", data.y_val)]
    elif folds:
        parts = [
            (f"fold {i + 1} of {len(folds)}", data.y[scored]) for i, (_, scored) in enumerate(folds)
        ]
        parts += [
            (f"the rows outside fold {i + 1}", data.y[fit]) for i, (fit, _) in enumerate(folds)
        ]
    else:
        fix += " Or link a 'valid' table."
        parts = [("the training rows", data.y_fit), ("the 10% hold-out", data.y_val)]
    for what, labels in parts:
        if not both(labels):
            raise OperatorError(
                f"{where} cannot tune and validate on {what}: {described(labels)}, and "
                f"both classes are needed there. {fix}"
            )


def validation_kind(valid: Any, folds: list[Any]) -> str:
    if valid is not None:
        return "valid input"
    return f"{len(folds)} folds" if folds else "hold-out"


def content_folds(keys: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (fit rows, scored rows) index pairs, each row scored in the fold a seeded hash of its
    row identity picks (the same rows whatever feature columns the model uses)."""
    fold = (_key_hashes(keys, seed + 3) % np.uint64(k)).astype(np.int64)
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


def cross_validate(
    params: dict[str, Any],
    data: Any,
    x: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    rounds: int,
    callbacks: list[Any],
) -> tuple[int, np.ndarray]:
    """LightGBM's k-fold training (early stopping, when asked, on the folds' mean AUC): the
    rounds chosen and every row's out-of-fold score at that round."""
    import lightgbm as lgb

    result = lgb.cv(
        params,
        data,
        num_boost_round=rounds,
        folds=folds,
        callbacks=callbacks,
        return_cvbooster=True,
    )
    n_iter = len(result["valid auc-mean"])
    scores = np.empty(x.shape[0])
    for booster, (_, scored) in zip(result["cvbooster"].boosters, folds, strict=True):
        scores[scored] = booster.predict(x[scored], num_iteration=n_iter)
    return n_iter, scores


def ordered_holdout(
    x: np.ndarray, y: np.ndarray, keys: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """All rows in content order, the fit rows first and about ``share`` of them, picked by a
    seeded hash of their row identity (``keys``, see operators.modeling.row_identity), last for
    validation. Returns (x, y, keys, number of fit rows)."""
    draw = (_key_hashes(keys, seed) >> np.uint64(11)).astype(np.float64) / float(2**53)
    is_valid = draw < share
    order = np.lexsort((keys, row_hashes(x, y, seed), is_valid))
    return x[order], y[order], keys[order], int(len(y) - is_valid.sum())
