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
from operators.gbdt_driver import (
    MAX_CATEGORIES,
    collect_driver_data,
    fingerprint,
    refit,
    tune,
    validation_kind,
)
from operators.modeling import (
    LABEL,
    NUMERIC,
    POSITIVE,
    ROW_KEY,
    col,
    has_features,
    holdout,
    on_openmp_thread,
    resolve_label,
)

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

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
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
        target = {"label": label, "positive": positive, "classes": classes}
        if engine == "spark":
            spec = self._fit_categories(train, spec)
            return self._run_on_cluster(ctx, train, valid, y_col, spec, params, where, target)
        data, spec = collect_driver_data(ctx, where, train, valid, y_col, spec, params, rows)
        cat_idx = [i for i, c in enumerate(spec) if c["categorical"]]
        names = [c["name"] for c in spec]
        base = _lgb_base(spec, params, where, params["threads"])
        t0 = time.time()
        trials, best = on_openmp_thread(
            lambda: tune(
                ctx, data, base, _trials_spec(params), params["max_rounds"], names, cat_idx
            )
        )
        assert best is not None
        _, cand, n_iter, booster, scores = best
        if valid is None:  # refit on every training row with the chosen settings
            booster = on_openmp_thread(
                lambda: refit(data, {**base, **cand}, n_iter, names, cat_idx)
            )
        validation = {
            "kind": validation_kind(valid, data.folds),
            "fingerprint": fingerprint(data.val_keys),
        }
        return _write_bundle(
            ctx,
            booster,
            spec,
            data.y_val,
            scores,
            ks_threshold(data.y_val, scores),
            target,
            {**cand, "rounds": n_iter, **_run_params(params, params["threads"])},
            time.time() - t0,
            trials,
            {"engine": "driver", "validation": validation["kind"]},
            validation,
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
        target: dict[str, Any],
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
        lgb_params = {**_lgb_base(spec, params, where, threads), **cand}
        del lgb_params["metric"]
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
            target,
            {**cand, "rounds": params["rounds"], **_run_params(params, threads)},
            time.time() - t0,
            trials,
            {"engine": "spark", "machines": machines},
            {"kind": "hold-out" if valid is None else "valid input", "fingerprint": None},
        )

    @staticmethod
    def _columns(df: Any, params: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        wanted = list(params["columns"]) or [
            c for c in df.columns if c not in (params["label"], ROW_KEY, *params["exclude"])
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


def _lgb_base(
    spec: list[dict[str, Any]], params: Mapping[str, Any], where: str, threads: int
) -> dict[str, Any]:
    """LightGBM's settings besides the tuned ones."""
    base = {
        **monotone_constraints(spec, params.get("monotone") or {}, where),
        "objective": "binary",
        "deterministic": True,
        "num_threads": threads,
        "seed": params["seed"],
        "verbose": -1,
        "feature_pre_filter": False,
        "metric": "auc",
    }
    if params["class_weight"] == "balanced":
        base["is_unbalance"] = True
    return base


def _trials_spec(params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], int | None]]:
    """The parameter sets tried: (name, settings, fixed rounds or None for early stopping)."""
    if params["auto_tune"]:
        return [("LightGBM defaults, 100 rounds", DEFAULTS, 100)] + [
            (f"candidate {i + 1}", {**DEFAULTS, **c}, None)
            for i, c in enumerate(CANDIDATES[: params["tune_budget"] - 1])
        ]
    given = {
        **DEFAULTS,
        "num_leaves": params["num_leaves"],
        "learning_rate": params["learning_rate"],
    }
    return [("given", given, None)]


def _run_params(params: Mapping[str, Any], threads: int) -> dict[str, Any]:
    return {
        "threads": threads,
        "seed": params["seed"],
        "monotone": dict(params.get("monotone") or {}),
    }


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
    validation: dict[str, Any],
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
            "validation": {**validation, "rows": len(y_val)},
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
