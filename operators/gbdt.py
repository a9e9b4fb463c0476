"""train.gbdt: gradient-boosted trees with LightGBM, trained on the driver or, for large data,
across the Spark executors (operators.gbdt_cluster)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    binary_report,
    collect_gbdt_columns,
    encode_gbdt_table,
    ks_threshold,
    score_baseline,
    seed_param,
    write_manifest,
)
from operators.gbdt_cluster import train_on_cluster
from operators.modeling import (
    LABEL,
    NUMERIC,
    POSITIVE,
    check_collect,
    col,
    has_features,
    holdout,
    on_openmp_thread,
    resolve_label,
)

MAX_CATEGORIES = 1000
#: engine "auto" trains on the driver up to this many rows x feature columns (8 bytes each:
#: 400 MB as doubles), on the cluster above it
DRIVER_MAX_VALUES = 50_000_000
DEFAULTS = {
    "num_leaves": 31,
    "learning_rate": 0.1,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "lambda_l2": 0.0,
}
# A small, sensible search around LightGBM's defaults (which are always tried first).
CANDIDATES = [
    {"learning_rate": 0.05},
    {"learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 50},
    {"learning_rate": 0.05, "num_leaves": 63, "min_data_in_leaf": 50, "feature_fraction": 0.8},
    {"learning_rate": 0.03, "min_data_in_leaf": 100, "feature_fraction": 0.8, "lambda_l2": 1.0},
    {"learning_rate": 0.05, "feature_fraction": 0.7, "lambda_l2": 5.0},
    {"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 100},
    {"learning_rate": 0.02, "min_data_in_leaf": 50, "feature_fraction": 0.8, "lambda_l2": 10.0},
    {"learning_rate": 0.05, "num_leaves": 127, "min_data_in_leaf": 100, "feature_fraction": 0.6},
    {"learning_rate": 0.03, "num_leaves": 7, "min_data_in_leaf": 20},
]


#: LightGBM monotone constraint per direction name
MONOTONE = {"increasing": 1, "decreasing": -1, "none": 0}


class TrainGbdt(Operator):
    id = "train.gbdt"
    reads_input_files = True  # training-data statistics of the input, kept in the bundle
    version = 1
    category = "Models"
    title = "GBDT (LightGBM)"
    description = (
        "Gradient-boosted decision trees with LightGBM on the raw columns: numbers as they are, "
        "text and boolean columns as native categorical features. Early stopping on a validation "
        "set, automatic tuning (a small search that always includes LightGBM's defaults, so it "
        "never does worse than them on validation), gain and split feature importance. Runs "
        "deterministically on the driver: the rows are checked against the driver's memory "
        "before they are collected."
    )
    inputs = (
        Port("train", "table", "Training rows."),
        Port(
            "valid",
            "table",
            "Validation rows for early stopping and tuning (else 10% of train).",
            optional=True,
        ),
    )
    outputs = (Port("model", "model", "The model bundle."),)
    params = (
        LABEL,
        POSITIVE,
        Param(
            "columns",
            "array",
            "Feature columns; empty means all but the label and 'exclude'.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "exclude",
            "array",
            "Columns to leave out (e.g. ids).",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        Param(
            "auto_tune",
            "boolean",
            "Search a few parameter sets by validation AUC.",
            default=True,
            widget="checkbox",
        ),
        Param(
            "tune_budget",
            "integer",
            "Parameter sets tried when tuning (evaluations).",
            default=6,
            minimum=1,
            maximum=len(CANDIDATES) + 1,
            widget="number",
        ),
        Param(
            "tune_folds",
            "integer",
            "Without a 'valid' input: 1 holds out 10% of the rows for tuning and early stopping; "
            "k > 1 trains each parameter set on k-1 of k folds in turn and scores the fold left "
            "out: a steadier choice, for about 2.5x the node's time at k=3.",
            default=1,
            minimum=1,
            maximum=10,
            widget="number",
        ),
        Param(
            "num_leaves",
            "integer",
            "Leaves per tree (without tuning).",
            default=31,
            minimum=2,
            maximum=4096,
            widget="number",
        ),
        Param(
            "learning_rate",
            "number",
            "Shrinkage (without tuning).",
            default=0.1,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            widget="number",
        ),
        Param(
            "max_rounds",
            "integer",
            "Upper bound on boosting rounds (early stopping picks the number).",
            default=1000,
            minimum=1,
            maximum=100_000,
            widget="number",
        ),
        Param(
            "class_weight",
            "string",
            "Re-weigh the classes (balanced) or not.",
            default="none",
            enum=("none", "balanced"),
            widget="select",
        ),
        Param(
            "sample_rows",
            "integer",
            "Train on a deterministic sample of this many rows (not set: all).",
            nullable=True,
            minimum=1000,
            widget="number",
        ),
        Param(
            "threads",
            "integer",
            "LightGBM threads (fixed for reproducible results).",
            default=2,
            minimum=1,
            maximum=256,
            widget="number",
        ),
        Param(
            "engine",
            "string",
            "Where to train: driver (collects the rows and tunes, fast for data that fits), spark "
            "(LightGBM's distributed training across the executors in a barrier stage; no tuning "
            "or early stopping there, 'rounds' rounds), or auto: driver up to 50 million values "
            "(rows x feature columns), else spark.",
            default="auto",
            enum=("auto", "driver", "spark"),
            widget="select",
        ),
        Param(
            "rounds",
            "integer",
            "Boosting rounds when training on the cluster (engine spark).",
            default=200,
            minimum=1,
            maximum=100_000,
            widget="number",
        ),
        Param(
            "workers",
            "integer",
            "LightGBM machines when training on the cluster (default: all task slots); each runs "
            "one barrier task, so the cluster needs that many free slots at once.",
            nullable=True,
            minimum=1,
            maximum=1024,
            widget="number",
        ),
        Param(
            "monotone",
            "object",
            "Directions the score must follow, per number column (LightGBM's monotone "
            'constraints): {"debt_to_income": "increasing", "income": "decreasing"}. The '
            "score then never falls as an increasing column rises, whatever the other columns.",
            default={},
            values={"type": "string", "enum": list(MONOTONE)},
            widget="mapping",
            title="Monotone constraints",
        ),
        seed_param("Seed of LightGBM and of the validation hold-out."),
    )

    def run(  # noqa: PLR0915
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        import lightgbm as lgb

        where = ctx.where
        train, valid = inputs["train"], inputs.get("valid")
        label = params["label"]
        if has_features(train):
            raise OperatorError(
                f"{where} takes raw columns (numbers and categories), not a hashed feature vector: link the "
                "table before features.extract."
            )
        y_col, positive, classes = resolve_label(train, label, params.get("positive"), where)
        spec = self._columns(train, params, where)
        rows = train.count()
        if params.get("sample_rows") and rows > params["sample_rows"]:
            keep = params["sample_rows"] / rows
            train, _ = holdout(train, 1 - keep, params["seed"] + 1)
            ctx.log(f"training on a sample of about {params['sample_rows']:,} of {rows:,} rows")
            rows = params["sample_rows"]
        engine = params["engine"]
        if engine == "auto":
            engine = "driver" if rows * len(spec) <= DRIVER_MAX_VALUES else "spark"
        if engine == "spark":
            spec = self._fit_categories(train, spec)
            return self._run_on_cluster(
                ctx, train, valid, y_col, spec, params, where, label, positive, classes
            )
        # One plain projection crosses to the driver; categories, the validation hold-out and a
        # content-fixed row order are worked out there in numpy. Sorting, hashing and encoding in
        # Spark cost a shuffle and large generated code that the JVM then compiles on the same
        # cores LightGBM trains on.
        check_collect(ctx, where, rows, _driver_bytes_per_row(spec), "sample_rows")
        table = collect_gbdt_columns(train, y_col, spec)
        spec = _categories_of(table, spec)
        x, y = encode_gbdt_table(table, spec)
        del table
        folds: list[tuple[np.ndarray, np.ndarray]] = []
        if valid is None and params["tune_folds"] > 1:
            x, y = _in_content_order(x, y)
            folds = _content_folds(x, y, params["tune_folds"], params["seed"])
            x_fit, y_fit, x_val, y_val = x, y, x, y  # every row is scored out of fold
        elif valid is None:
            x, y, n_fit = _ordered_holdout(x, y, 0.1, params["seed"])
            x_fit, y_fit, x_val, y_val = x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]
        else:
            x_fit, y_fit = _in_content_order(x, y)
            x_val, y_val = encode_gbdt_table(collect_gbdt_columns(valid, y_col, spec), spec)
        _check_validation_rows(where, y, y_fit, y_val, folds, valid is not None)
        cat_idx = [i for i, c in enumerate(spec) if c["categorical"]]
        names = [c["name"] for c in spec]
        base = {
            **monotone_constraints(spec, params.get("monotone") or {}, where),
            "objective": "binary",
            "deterministic": True,
            "num_threads": params["threads"],
            "seed": params["seed"],
            "verbose": -1,
            "feature_pre_filter": False,
            "metric": "auc",
        }
        if params["class_weight"] == "balanced":
            base["is_unbalance"] = True
        t0 = time.time()
        if params["auto_tune"]:
            trials_spec = [("LightGBM defaults, 100 rounds", DEFAULTS, 100)] + [
                (f"candidate {i + 1}", {**DEFAULTS, **c}, None)
                for i, c in enumerate(CANDIDATES[: params["tune_budget"] - 1])
            ]
        else:
            trials_spec = [
                (
                    "given",
                    {
                        **DEFAULTS,
                        "num_leaves": params["num_leaves"],
                        "learning_rate": params["learning_rate"],
                    },
                    None,
                )
            ]

        def tune() -> tuple[list[dict[str, Any]], Any]:
            dfit = lgb.Dataset(
                x_fit, y_fit, feature_name=names, categorical_feature=cat_idx, free_raw_data=False
            )
            dval = None if folds else lgb.Dataset(x_val, y_val, reference=dfit)
            trials, best = [], None
            for name, cand, rounds in trials_spec:
                ctx.check_cancelled()
                stop = [] if rounds else [lgb.early_stopping(50, verbose=False)]
                fit_start = time.perf_counter()
                if folds:
                    booster = None
                    n_iter, scores = _cross_validate(
                        {**base, **cand}, dfit, x, folds, rounds or params["max_rounds"], stop
                    )
                    fit_seconds = time.perf_counter() - fit_start
                else:  # with fixed rounds nothing is watched: exactly LightGBM's own fit
                    booster = lgb.train(
                        {**base, **cand},
                        dfit,
                        num_boost_round=rounds or params["max_rounds"],
                        valid_sets=[dval] if stop else None,
                        callbacks=stop,
                    )
                    fit_seconds = time.perf_counter() - fit_start
                    n_iter = booster.best_iteration or booster.current_iteration()
                    scores = booster.predict(x_val, num_iteration=n_iter)
                auc = binary_report(y_val, scores, 0.5)["auc"]
                trials.append(
                    {
                        "name": name,
                        "params": cand,
                        "rounds": n_iter,
                        "valid_auc": auc,
                        "seconds": round(fit_seconds, 4),
                    }
                )
                scored = f"{len(folds)}-fold validation" if folds else "validation"
                ctx.log(f"{name}: {n_iter} rounds, {scored} AUC {auc:.4f}")
                if best is None or auc > best[0]:
                    best = (auc, cand, n_iter, booster, scores)
            return trials, best

        trials, best = on_openmp_thread(tune)
        assert best is not None
        valid_auc, cand, n_iter, booster, scores = best
        threshold = ks_threshold(y_val, scores)
        if valid is None:  # refit on every training row with the chosen settings

            def refit() -> Any:
                dall = lgb.Dataset(x, y, feature_name=names, categorical_feature=cat_idx)
                return lgb.train({**base, **cand}, dall, num_boost_round=n_iter)

            booster = on_openmp_thread(refit)
        seconds = time.time() - t0
        return _write_bundle(
            ctx,
            booster,
            spec,
            y_val,
            scores,
            threshold,
            {"label": label, "positive": positive, "classes": classes},
            {
                **cand,
                "rounds": n_iter,
                "threads": params["threads"],
                "seed": params["seed"],
                "monotone": dict(params.get("monotone") or {}),
            },
            seconds,
            trials,
            {"engine": "driver", "validation": _validation_kind(valid, folds)},
        )

    def _run_on_cluster(
        self,
        ctx: RunContext,
        train: Any,
        valid: Any,
        y_col: Any,
        spec: list[dict[str, Any]],
        params: Mapping[str, Any],
        where: str,
        label: str,
        positive: Any,
        classes: Any,
    ) -> dict[str, Any]:
        """LightGBM's data-parallel training on the executors, validated on a hold-out that is
        scored on the driver (at most 200,000 of its rows)."""
        import lightgbm as lgb

        fit_df, valid_df = holdout(train, 0.1, params["seed"]) if valid is None else (train, valid)
        spark = ctx.spark
        workers = params.get("workers") or spark.sparkContext.defaultParallelism
        threads = int(spark.conf.get("spark.task.cpus", "1"))
        cand = {
            **DEFAULTS,
            "num_leaves": params["num_leaves"],
            "learning_rate": params["learning_rate"],
        }
        lgb_params = {
            **monotone_constraints(spec, params.get("monotone") or {}, where),
            "objective": "binary",
            "deterministic": True,
            "num_threads": threads,
            "seed": params["seed"],
            "verbose": -1,
            "feature_pre_filter": False,
            **cand,
        }
        if params["class_weight"] == "balanced":
            lgb_params["is_unbalance"] = True
        ctx.log(f"training on the cluster: {workers} LightGBM machines, {params['rounds']} rounds")
        t0 = time.time()
        text, machines = train_on_cluster(
            fit_df, y_col, spec, lgb_params, params["rounds"], workers, where
        )
        fit_seconds = time.time() - t0
        n_valid = valid_df.count()
        if n_valid > 200_000:
            valid_df, _ = holdout(valid_df, 1 - 200_000 / n_valid, params["seed"] + 2)
        x_val, y_val = encode_gbdt_table(collect_gbdt_columns(valid_df, y_col, spec), spec)
        booster = on_openmp_thread(lambda: lgb.Booster(model_str=text))
        scores = on_openmp_thread(lambda: booster.predict(x_val))
        auc = binary_report(y_val, scores, 0.5)["auc"]
        ctx.log(
            f"cluster training: {params['rounds']} rounds in {fit_seconds:.1f} s, validation AUC {auc:.4f}"
        )
        trials = [
            {
                "name": f"cluster, {machines} machines",
                "params": cand,
                "rounds": params["rounds"],
                "valid_auc": auc,
                "seconds": round(fit_seconds, 4),
            }
        ]
        return _write_bundle(
            ctx,
            booster,
            spec,
            y_val,
            scores,
            ks_threshold(y_val, scores),
            {"label": label, "positive": positive, "classes": classes},
            {
                **cand,
                "rounds": params["rounds"],
                "threads": threads,
                "seed": params["seed"],
                "monotone": dict(params.get("monotone") or {}),
            },
            time.time() - t0,
            trials,
            {"engine": "spark", "machines": machines},
        )

    @staticmethod
    def _columns(df: Any, params: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        wanted = list(params["columns"]) or [
            c for c in df.columns if c not in (params["label"], *params["exclude"])
        ]
        spec, skipped = [], []
        for name in wanted:
            t = types[name]
            if t in NUMERIC or t.startswith("decimal"):
                spec.append({"name": name, "type": t, "categorical": False})
            elif t in ("string", "boolean"):
                spec.append({"name": name, "type": t, "categorical": True})
            else:
                skipped.append(f"{name} ({t})")
        if skipped and params["columns"]:
            raise OperatorError(
                f"{where} cannot use the columns {', '.join(skipped)}: give numbers, text or booleans."
            )
        if not spec:
            raise OperatorError(
                f'{where}: the input has no feature columns besides the label "{params["label"]}".'
            )
        return spec

    @staticmethod
    def _fit_categories(df: Any, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from pyspark.sql import functions as F

        out = []
        for c in spec:
            if c["categorical"]:
                top = (
                    df.where(col(c["name"]).isNotNull())
                    .groupBy(col(c["name"]).cast("string").alias("v"))
                    .count()
                    .orderBy(F.col("count").desc(), "v")
                    .limit(MAX_CATEGORIES)
                    .collect()
                )
                c = {**c, "categories": sorted(r["v"] for r in top)}
            out.append(c)
        return out


def monotone_constraints(
    spec: list[dict[str, Any]], wanted: Mapping[str, str], where: str
) -> dict[str, Any]:
    """LightGBM's monotone_constraints (one per feature column, in the model's order)."""
    if not wanted or all(v == "none" for v in wanted.values()):
        return {}
    by_name = {c["name"]: c for c in spec}
    for name in wanted:
        if name not in by_name:
            raise OperatorError(
                f"The 'monotone' parameter of {where} names the column \"{name}\", which is not "
                f"among the model's columns: {', '.join(by_name)}."
            )
        if by_name[name]["categorical"] and wanted[name] != "none":
            raise OperatorError(
                f"The 'monotone' parameter of {where} constrains \"{name}\", which holds "
                "categories: only number columns have a direction."
            )
    return {
        "monotone_constraints": [MONOTONE[wanted.get(c["name"], "none")] for c in spec],
        "monotone_constraints_method": "intermediate",  # "advanced" broke monotonicity here (LightGBM 4)
    }


def _write_bundle(
    ctx: RunContext,
    booster: Any,
    spec: list[dict[str, Any]],
    y_val: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    target: dict[str, Any],
    model_params: dict[str, Any],
    seconds: float,
    trials: list[dict[str, Any]],
    training: dict[str, Any],
) -> dict[str, Any]:
    """The model bundle (LightGBM model text + manifest), whichever engine trained it."""
    names = [c["name"] for c in spec]
    # on the OpenMP thread too: LightGBM's model export runs parallel regions, and one on any
    # other thread would slow every later fit in the process (see on_openmp_thread)
    gain, split, text = on_openmp_thread(
        lambda: (
            booster.feature_importance("gain", iteration=None),
            booster.feature_importance("split", iteration=None),
            booster.model_to_string(num_iteration=None),
        )
    )
    importance = sorted(
        (
            {"feature": n, "gain": float(g), "split": int(s)}
            for n, g, s in zip(names, gain, split, strict=True)
        ),
        key=lambda d: -d["gain"],
    )
    report = binary_report(y_val, scores, threshold)
    folder = ctx.artifact_dir("model")
    (folder / "model.txt").write_text(text, encoding="utf-8")
    write_manifest(
        folder,
        {
            "model_type": "gbdt",
            **target,
            "threshold": threshold,
            "input_schema": [{"name": c["name"], "type": c["type"]} for c in spec],
            "gbdt": {"columns": spec},
            "params": model_params,
            "metrics": {
                "valid_auc": report["auc"],
                "valid_ks": report["ks"],
                "valid_logloss": report["logloss"],
                "train_seconds": seconds,
            },
            "feature_importance": importance,
            "baseline": _baseline(ctx, names),
            "score_baseline": score_baseline(scores),
            "tuning": trials,
            "training": training,
            "lineage": {"run_id": ctx.run_id, "node_id": ctx.node_id},
        },
    )
    ctx.set_metrics(
        {"valid_auc": report["auc"], "rounds": model_params["rounds"], "threshold": threshold}
    )
    return {"model": folder}


def _baseline(ctx: RunContext, columns: list[str]) -> dict[str, Any] | None:
    """Training-data statistics of the model's input columns, for drift checks later."""
    stats = ctx.input_statistics("train")
    if not stats:
        return None
    keep = set(columns)
    return {"rows": stats["rows"], "columns": [c for c in stats["columns"] if c["name"] in keep]}


def _driver_bytes_per_row(spec: list[dict[str, Any]]) -> float:
    """Driver memory per training row: the collected Arrow values and the float64 matrix built
    from them (both held for a moment), text values counted at 16 bytes."""
    return 1 + sum(8 + (16 if c["categorical"] else 8) for c in spec)


def _categories_of(table: Any, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _row_hashes(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
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


def _in_content_order(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows sorted by their content hash, so that driver-side training gives bit-identical
    models on any master and partitioning (equal hashes are equal rows, barring a 2^-64
    collision)."""
    order = np.argsort(_row_hashes(x, y, 17), kind="stable")
    return x[order], y[order]


def _check_validation_rows(
    where: str,
    y: np.ndarray,
    y_fit: np.ndarray,
    y_val: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    linked: bool,
) -> None:
    """Tuning, early stopping and the KS threshold need rows of both classes on each side."""

    def both(labels: np.ndarray) -> bool:
        return len(labels) > 0 and 0 < int(labels.sum()) < len(labels)

    def described(labels: np.ndarray) -> str:
        return f"{len(labels):,} rows, {int(labels.sum()):,} of them positive"

    fix = "Train on more rows, or lower 'tune_folds'." if folds else "Train on more rows."
    if linked:
        fix = "Link a 'valid' table with rows of both classes."
        parts = [("the training rows", y_fit), ("the 'valid' rows", y_val)]
    elif folds:
        parts = [
            (f"fold {i + 1} of {len(folds)}", y[scored]) for i, (_, scored) in enumerate(folds)
        ]
        parts += [(f"the rows outside fold {i + 1}", y[fit]) for i, (fit, _) in enumerate(folds)]
    else:
        fix += " Or link a 'valid' table."
        parts = [("the training rows", y_fit), ("the 10% hold-out", y_val)]
    for what, labels in parts:
        if not both(labels):
            raise OperatorError(
                f"{where} cannot tune and validate on {what}: {described(labels)}, and "
                f"both classes are needed there. {fix}"
            )


def _validation_kind(valid: Any, folds: list[Any]) -> str:
    if valid is not None:
        return "valid input"
    return f"{len(folds)} folds" if folds else "hold-out"


def _content_folds(
    x: np.ndarray, y: np.ndarray, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (fit rows, scored rows) index pairs, each row scored in the fold a seeded hash of its
    content picks."""
    fold = (_row_hashes(x, y, seed + 3) % np.uint64(k)).astype(np.int64)
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


def _cross_validate(
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


def _ordered_holdout(
    x: np.ndarray, y: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """All rows in content order, the fit rows first and about ``share`` of them, picked by a
    seeded hash of their content, last for validation. Returns (x, y, number of fit rows)."""
    h = _row_hashes(x, y, seed)
    is_valid = (h >> np.uint64(11)).astype(np.float64) / float(2**53) < share
    order = np.lexsort((h, is_valid))
    return x[order], y[order], int(len(y) - is_valid.sum())
