"""train.hdlr: logistic regression on the hashed high-dimensional sparse feature space."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.opapi import (
    INDEX_COL,
    VALUE_COL,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    apply_transform,
    binary_report,
    fit_features,
    ks_threshold,
    score_baseline,
    seed_param,
    write_manifest,
)
from operators.modeling import (
    LABEL,
    POSITIVE,
    ROW_KEY,
    check_collect,
    default_lr_features,
    driver_limit_bytes,
    has_features,
    hash_sample,
    holdout,
    resolve_label,
    row_identity,
    single_blas_thread,
    stable_order,
    transform_of_input,
    with_row_key,
)

TUNE_SAMPLE_ROWS = (
    1_000_000  # on the Spark path, the strength is searched on the driver on this many rows
)


def collect_bytes(rows: int, entries: int) -> int:
    """What the driver path brings to the driver: a 4-byte index and an 8-byte value per entry."""
    return rows * (entries * 12 + 16)


class TrainHdlr(Operator):
    id = "train.hdlr"
    reads_input_files = True  # training-data statistics of the input, kept in the bundle
    version = 1
    category = "Models"
    title = "High-dimensional LR"
    description = (
        "Logistic regression on the hashed sparse feature space, with L1, L2 or elastic-net "
        "regularization and automatic tuning of its strength on a validation set. Takes the "
        "output of features.extract (the model carries that transform) or a raw table (it then "
        "fits a default transform: discrete text columns, ten quantile buckets per number). "
        "Small data trains on the driver (scikit-learn); big data on the cluster (Spark MLlib), "
        "with the same objective; see 'engine'."
    )
    inputs = (
        Port("train", "table", "Training rows."),
        Port(
            "valid",
            "table",
            "Validation rows for tuning and the threshold (else 20% of train is held out).",
            optional=True,
        ),
    )
    outputs = (Port("model", "model", "The model bundle."),)
    params = (
        LABEL,
        POSITIVE,
        Param(
            "penalty",
            "string",
            "Regularization.",
            default="l2",
            enum=("l2", "l1", "elasticnet"),
            widget="select",
        ),
        Param(
            "reg",
            "number",
            "Regularization strength (Spark MLlib's regParam); tuned when auto_tune is on.",
            default=1e-4,
            minimum=0,
            maximum=10,
            widget="number",
        ),
        Param(
            "l1_ratio",
            "number",
            "Share of L1 in elastic net.",
            default=0.5,
            minimum=0,
            maximum=1,
            widget="number",
        ),
        Param(
            "class_weight",
            "string",
            "Weigh classes equally (balanced) or by their counts (none).",
            default="none",
            enum=("none", "balanced"),
            widget="select",
        ),
        Param(
            "max_iter",
            "integer",
            "Maximum optimizer iterations.",
            default=200,
            minimum=1,
            maximum=10_000,
            widget="number",
        ),
        Param(
            "auto_tune",
            "boolean",
            "Search the regularization strength by validation AUC.",
            default=True,
            widget="checkbox",
        ),
        Param(
            "tune_budget",
            "integer",
            "Candidate strengths tried when tuning (evaluations).",
            default=8,
            minimum=2,
            maximum=50,
            widget="number",
        ),
        Param(
            "engine",
            "string",
            "Where to train: auto (the driver when the rows fit its collect limit, else Spark), "
            "driver, or spark.",
            default="auto",
            enum=("auto", "driver", "spark"),
            widget="select",
        ),
        Param(
            "hash_bits",
            "integer",
            "Hash space of the default transform (raw input only).",
            default=20,
            minimum=10,
            maximum=30,
            widget="number",
        ),
        Param(
            "exclude",
            "array",
            "Columns the default transform leaves out (e.g. ids).",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        seed_param("Seed of the validation hold-out."),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = ctx.where
        train, valid = inputs["train"], inputs.get("valid")
        label = params["label"]
        y_col, positive, classes = resolve_label(train, label, params.get("positive"), where)
        fitted, baseline, train, valid = _feature_input(ctx, train, valid, params)
        if valid is None:
            fit_part, valid_part = holdout(train, 0.2, params["seed"])
        else:
            fit_part, valid_part = train, valid
        dim = 1 << int(fitted["hash_bits"])
        entries = sum(len(f.get("parts", [0])) for f in fitted["features"])
        rows = train.count()
        engine, trainer = _trainer(ctx, params, fitted, rows, entries)
        t0 = time.time()
        regs = (
            list(np.logspace(-6, -1, params["tune_budget"]))
            if params["auto_tune"]
            else [params["reg"]]
        )
        trials: list[dict[str, Any]] = []
        if engine == "spark" and len(regs) > 1:
            # one MLlib fit costs a Spark job per iteration: search the strength on the driver,
            # on a sample, with the same objective, then fit once on the cluster
            sample = (fit_part, valid_part, y_col, label, positive, rows, entries)
            regs = [self._tune_on_sample(ctx, where, params, dim, sample, regs, trials)]
        data_fit = trainer.prepare(fit_part, y_col, label, positive)
        data_valid = trainer.prepare(valid_part, y_col, label, positive)
        valid_auc, reg, model, scores, y = _search(ctx, trainer, data_fit, data_valid, regs, trials)
        threshold = ks_threshold(y, scores)
        if valid is None:
            # the final model: the chosen strength, fitted on all training rows (the tuning
            # data is let go first: on the driver it is most of what the node holds)
            del data_fit, data_valid
            trainer.release()
            final = trainer.fit(trainer.prepare(train, y_col, label, positive), reg)
        else:
            final = model
        intercept, indices, weights = trainer.coefficients(final)
        trainer.release()
        report = binary_report(y, scores, threshold)
        manifest = {
            "model_type": "hdlr",
            "label": label,
            "positive": positive,
            "classes": classes,
            "threshold": threshold,
            "input_schema": fitted["input_schema"],
            "transform": fitted,
            "params": {
                **{k: params[k] for k in ("penalty", "l1_ratio", "class_weight", "max_iter")},
                "reg": float(reg),
                "engine": engine,
            },
            "metrics": {
                "valid_auc": valid_auc,
                "valid_ks": report["ks"],
                "valid_logloss": report["logloss"],
                "train_seconds": time.time() - t0,
            },
            "tuning": trials,
            "validation": {
                "kind": "hold-out" if valid is None else "valid input",
                "fingerprint": holdout_fingerprint(valid_part),
            },
            # training-data statistics of the raw input columns (when this node saw them)
            "baseline": baseline,
            "score_baseline": score_baseline(scores),
        }
        return _write_model(ctx, manifest, intercept, indices, weights)

    @staticmethod
    def _tune_on_sample(
        ctx: RunContext,
        where: str,
        params: Mapping[str, Any],
        dim: int,
        sample: tuple[Any, Any, Any, str, Any, int, int],
        regs: list[float],
        trials: list[dict[str, Any]],
    ) -> float:
        """The strength chosen on a content-hash sample by the driver trainer, rescaled to the
        full data: MLlib's objective is the mean loss + reg x penalty, so the same prior
        strength on n rows is reg x n_sample / n. ``sample``: (fit rows, validation rows, label
        expression, label column, positive class, rows, feature entries per row)."""
        fit_part, valid_part, y_col, label, positive, rows, entries = sample
        fit_rows = fit_part.count()
        limit_rows = driver_limit_bytes(ctx.spark) // max(1, 2 * (entries * 12 + 16))
        share = min(1.0, TUNE_SAMPLE_ROWS / max(1, rows), limit_rows / max(1, rows))
        driver = _DriverLR(ctx, where, params, dim)
        fit_s = driver.prepare(hash_sample(fit_part, share, 7), y_col, label, positive)
        valid_s = driver.prepare(hash_sample(valid_part, share, 7), y_col, label, positive)
        n_sample = fit_s[0].shape[0]
        if n_sample < 2 or len(set(fit_s[1].tolist())) < 2:
            ctx.log("the tuning sample is too small; keeping the 'reg' parameter")
            return float(params["reg"])
        ctx.log(
            f"searching the strength on the driver on a sample of {n_sample:,} of {fit_rows:,} rows"
        )
        best = _search(ctx, driver, fit_s, valid_s, regs, trials, {"sample_rows": n_sample})
        scaled = float(best[1]) * n_sample / max(1, fit_rows)
        ctx.log(f"chosen on the sample: reg={best[1]:.2e}, {scaled:.2e} on all {fit_rows:,} rows")
        return scaled


def _trainer(
    ctx: RunContext, params: Mapping[str, Any], fitted: dict[str, Any], rows: int, entries: int
) -> tuple[str, Any]:
    """Where the model trains (engine auto: the driver when the rows fit its collect limit)
    and the trainer for it."""
    engine = params["engine"]
    if engine == "auto":
        fits = collect_bytes(rows, entries) <= driver_limit_bytes(ctx.spark)
        engine = "driver" if fits else "spark"
    ctx.log(
        f"training on {rows:,} rows x {entries} features in a 2^{fitted['hash_bits']} space ({engine})"
    )
    dim = 1 << int(fitted["hash_bits"])
    if engine == "driver":
        check_collect(ctx, ctx.where, rows, entries * 12 + 16, "engine")
        return engine, _DriverLR(ctx, ctx.where, params, dim)
    return engine, _SparkLR(ctx, params, dim)


def _write_model(
    ctx: RunContext,
    manifest: dict[str, Any],
    intercept: float,
    indices: list[int],
    weights: list[float],
) -> dict[str, Any]:
    """The model bundle: its coefficients and manifest; the node's metrics."""
    folder = ctx.artifact_dir("model")
    (folder / "coefficients.json").write_text(
        json.dumps({"intercept": intercept, "indices": indices, "weights": weights}),
        encoding="utf-8",
    )
    write_manifest(
        folder,
        {
            **manifest,
            "nonzero_weights": len(indices),
            "lineage": {"run_id": ctx.run_id, "node_id": ctx.node_id},
        },
    )
    ctx.set_metrics(
        {
            "valid_auc": manifest["metrics"]["valid_auc"],
            "reg": manifest["params"]["reg"],
            "nonzero_weights": len(indices),
            "threshold": manifest["threshold"],
        }
    )
    return {"model": folder}


def _feature_input(
    ctx: RunContext, train: Any, valid: Any, params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None, Any, Any]:
    """The fitted transform of a feature table, or, on a raw table, a default transform fitted
    here and applied (the row identity taken before it, as a feature node does). Returns
    (transform, baseline statistics of raw input, train, valid)."""
    label = params["label"]
    fitted = transform_of_input(ctx, "train") if has_features(train) else None
    if fitted is not None:
        return fitted, None, train, valid
    if has_features(train):
        raise OperatorError(
            f"{ctx.where}: the input has feature columns but no record of the transform that made them."
        )
    baseline = ctx.input_statistics("train")
    feats = default_lr_features(train, label, list(params["exclude"]))
    ctx.log(
        f"no feature columns in the input: fitting a default transform of {len(feats)} features"
    )
    fitted = fit_features(train, feats, params["hash_bits"], label, log=ctx.log)
    train = apply_transform(with_row_key(train), fitted, [ROW_KEY])
    if valid is not None:
        valid = apply_transform(with_row_key(valid), fitted, [ROW_KEY])
    return fitted, baseline, train, valid


def holdout_fingerprint(df: Any) -> str:
    """The validation rows named by their count and the XOR of their row identities (as
    train.gbdt's manifest names them): two models with the same fingerprint were validated on
    the same rows."""
    from pyspark.sql import functions as F

    row = df.agg(F.count(F.lit(1)).alias("n"), F.bit_xor(row_identity(df)).alias("x")).first()
    return f"{row['n']}:{(row['x'] or 0) & (2**64 - 1):016x}"


def _search(
    ctx: RunContext,
    trainer: Any,
    data_fit: Any,
    data_valid: Any,
    regs: list[float],
    trials: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> tuple[float, float, Any, np.ndarray, np.ndarray]:
    """Fit each strength, score the validation rows; (auc, reg, model, scores, y) of the best.
    Every candidate is appended to ``trials`` (with ``extra``, e.g. the sample size)."""
    best = None
    for reg in regs:
        ctx.check_cancelled()
        fit_start = time.perf_counter()
        model = trainer.fit(data_fit, reg)
        fit_seconds = time.perf_counter() - fit_start
        y, scores = trainer.score(model, data_valid)
        auc = binary_report(y, scores, 0.5)["auc"]
        trials.append(
            {"reg": float(reg), "valid_auc": auc, "seconds": round(fit_seconds, 4), **(extra or {})}
        )
        ctx.log(f"{'sample, ' if extra else ''}reg={reg:.2e}: validation AUC {auc:.4f}")
        if best is None or auc > best[0]:
            best = (auc, reg, model, scores, y)
    assert best is not None
    return best


def hashed_matrix(table: Any, dim: int) -> Any:
    """The CSR matrix (rows x dim) of an Arrow table's hashed feature columns, duplicate
    indices within a row summed. The table's feature buffers are let go as soon as copied."""
    import scipy.sparse as sp

    n = table.num_rows
    idx = table.column(INDEX_COL).combine_chunks()
    val = table.column(VALUE_COL).combine_chunks()
    del table
    # copies: scipy sorts and merges duplicate indices in place; Arrow buffers are read-only
    offsets = np.array(idx.offsets.to_numpy(), dtype=np.int64)
    indices = np.array(idx.values.to_numpy(zero_copy_only=False), dtype=np.int32)
    del idx
    data = np.array(val.values.to_numpy(zero_copy_only=False), dtype=float)
    del val
    x = sp.csr_matrix((data, indices, offsets), shape=(n, dim))
    x.sum_duplicates()
    return x


class _DriverLR:
    """scikit-learn on the driver, with MLlib's objective: mean log-loss + reg x penalty."""

    def __init__(self, ctx: RunContext, where: str, params: Mapping[str, Any], dim: int):
        self.ctx, self.where, self.params, self.dim = ctx, where, params, dim
        self._used: tuple[Any, np.ndarray, Any] | None = None

    def release(self) -> None:
        self._used = None

    def _used_columns(self, x: Any) -> tuple[np.ndarray, Any]:
        """The columns the rows use and the matrix narrowed to them, computed once per
        training matrix; it shares the values with ``x`` (only the indices are renumbered)."""
        import scipy.sparse as sp

        if self._used is None or self._used[0] is not x:
            cols = np.unique(x.indices)
            narrowed = sp.csr_matrix(
                (x.data, np.searchsorted(cols, x.indices).astype(np.int32), x.indptr),
                shape=(x.shape[0], len(cols)),
            )
            self._used = (x, cols, narrowed)
        return self._used[1], self._used[2]

    def prepare(self, df: Any, y_col: Any, label: str, positive: Any) -> Any:

        table = stable_order(df.select(y_col.alias("y"), INDEX_COL, VALUE_COL)).toArrow()
        y = table.column("y").to_numpy().astype(np.int8)
        return hashed_matrix(table, self.dim), y

    def fit(self, data: Any, reg: float) -> Any:
        """Fit on the columns the rows use (a few hundred of the 2^bits): same model, far faster."""
        from sklearn.linear_model import LogisticRegression

        x, y = data
        cols, narrowed = self._used_columns(x)
        p = self.params
        n = x.shape[0]
        c = 1.0 / max(reg * n, 1e-12)
        kwargs: dict[str, Any] = {
            "C": c,
            "max_iter": p["max_iter"],
            "tol": 1e-5,
            "class_weight": "balanced" if p["class_weight"] == "balanced" else None,
        }
        if p["penalty"] == "l2":
            kwargs.update(solver="lbfgs")
        else:
            kwargs.update(solver="saga", penalty=p["penalty"], random_state=0)
            if p["penalty"] == "elasticnet":
                kwargs["l1_ratio"] = p["l1_ratio"]
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            with single_blas_thread():
                model = LogisticRegression(**kwargs).fit(narrowed, y)
        return model, cols

    def score(self, fitted: Any, data: Any) -> tuple[np.ndarray, np.ndarray]:
        model, cols = fitted
        return data[1], model.predict_proba(data[0][:, cols])[:, 1]

    def coefficients(self, fitted: Any) -> tuple[float, list[int], list[float]]:
        model, cols = fitted
        w = model.coef_.ravel()
        nz = np.flatnonzero(w)
        return float(model.intercept_[0]), [int(cols[i]) for i in nz], [float(w[i]) for i in nz]


class _SparkLR:
    """Spark MLlib on the cluster (standardization off: it wrecks hashed sparse features)."""

    def __init__(self, ctx: RunContext, params: Mapping[str, Any], dim: int):
        self.ctx, self.params, self.dim = ctx, params, dim
        self._cached: list[Any] = []

    def prepare(self, df: Any, y_col: Any, label: str, positive: Any) -> Any:
        from pyspark.ml.linalg import SparseVector, VectorUDT
        from pyspark.sql import functions as F

        dim = self.dim

        @F.udf(VectorUDT(), useArrow=False)  # Arrow-optimized UDFs cannot return a UDT
        def to_vector(idx: list[int], val: list[float]) -> SparseVector:
            merged: dict[int, float] = {}
            for i, v in zip(idx, val, strict=True):
                merged[i] = merged.get(i, 0.0) + v
            keys = sorted(merged)
            return SparseVector(dim, keys, [merged[k] for k in keys])

        out = df.select(
            y_col.cast("double").alias("y"), to_vector(INDEX_COL, VALUE_COL).alias("features")
        )
        if self.params["class_weight"] == "balanced":
            counts = {r["y"]: r["count"] for r in out.groupBy("y").count().collect()}
            n = sum(counts.values())
            w = {k: n / (2.0 * v) for k, v in counts.items()}
            out = out.withColumn(
                "w", F.when(F.col("y") == 1.0, w.get(1.0, 1.0)).otherwise(w.get(0.0, 1.0))
            )
        self._cached.append(out.cache())
        return out

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    def fit(self, data: Any, reg: float) -> Any:
        from pyspark.ml.classification import LogisticRegression

        p = self.params
        lr = LogisticRegression(
            featuresCol="features",
            labelCol="y",
            regParam=float(reg),
            maxIter=p["max_iter"],
            tol=1e-6,
            elasticNetParam={"l2": 0.0, "l1": 1.0, "elasticnet": p["l1_ratio"]}[p["penalty"]],
            standardization=False,
            family="binomial",
        )
        if p["class_weight"] == "balanced":
            lr = lr.setWeightCol("w")
        return lr.fit(data)

    def score(self, model: Any, data: Any) -> tuple[np.ndarray, np.ndarray]:
        from pyspark.ml.functions import vector_to_array

        table = (
            model.transform(data)
            .select(vector_to_array("probability")[1].alias("p"), "y")
            .toArrow()
        )
        return table.column("y").to_numpy().astype(np.int8), table.column("p").to_numpy()

    def coefficients(self, model: Any) -> tuple[float, list[int], list[float]]:
        w = model.coefficients.toArray()
        nz = np.flatnonzero(w)
        return float(model.intercept), [int(i) for i in nz], [float(w[i]) for i in nz]
