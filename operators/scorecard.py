"""train.scorecard: logistic regression on WOE features, variable selection, points scaling."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.opapi import (
    COEFFICIENTS,
    VALUE_COL,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    apply_transform,
    binary_report,
    ks_threshold,
    score_baseline,
    seed_param,
    token_index,
    write_manifest,
)
from operators.modeling import (
    LABEL,
    POSITIVE,
    ROW_KEY,
    has_features,
    holdout,
    resolve_label,
    single_blas_thread,
    stable_order,
    transform_of_input,
    with_row_key,
)
from operators.scorecard_points import points_csv, points_table, scaling
from operators.woe import fit_woe_transform

POINTS_CSV = "points.csv"


def fit_lr(x: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """(intercept, coefficients) of an L2 logistic regression (mean log-loss + reg x L2)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if x.shape[1] == 0:
        rate = min(max(float(y.mean()), 1e-6), 1 - 1e-6)
        return float(np.log(rate / (1 - rate))), np.zeros(0)
    c = 1.0 / max(reg * len(y), 1e-12)
    with warnings.catch_warnings(), single_blas_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=c, solver="lbfgs", max_iter=1000, tol=1e-8).fit(x, y)
    return float(model.intercept_[0]), model.coef_[0].astype(float)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def _margin(x: np.ndarray, intercept: float, coef: np.ndarray) -> np.ndarray:
    return intercept + x @ coef


def candidates(
    x: np.ndarray, ivs: Sequence[float], min_iv: float, max_correlation: float
) -> list[int]:
    """Variables with an IV of at least ``min_iv``, strongest first, leaving out any whose WOE
    correlates above ``max_correlation`` with a stronger one kept."""
    kept: list[int] = []
    for j in sorted(range(len(ivs)), key=lambda j: -ivs[j]):
        if ivs[j] < min_iv or np.std(x[:, j]) == 0:
            continue
        if all(abs(np.corrcoef(x[:, j], x[:, k])[0, 1]) <= max_correlation for k in kept):
            kept.append(j)
    return kept


def _log_likelihood(x: np.ndarray, y: np.ndarray, intercept: float, coef: np.ndarray) -> float:
    m = _margin(x, intercept, coef)
    return float(-np.sum(np.logaddexp(0, m) - y * m))


def stepwise(
    x: np.ndarray,
    y: np.ndarray,
    pool: list[int],
    max_variables: int,
    reg: float,
    trials: list[dict[str, Any]],
    significance: float = 0.05,
) -> list[int]:
    """Forward stepwise selection by the likelihood-ratio test, as classic scorecard tools do:
    add the variable that raises the likelihood most (with the expected sign: more WOE, less
    risk) while its p-value stays under ``significance``, up to ``max_variables``."""
    from scipy.stats import chi2

    chosen: list[int] = []
    b0, coef = fit_lr(x[:, chosen], y, reg)
    current = _log_likelihood(x[:, chosen], y, b0, coef)
    while len(chosen) < max_variables:
        step: tuple[float, int] | None = None
        for j in pool:
            if j in chosen:
                continue
            cols = [*chosen, j]
            b0, coef = fit_lr(x[:, cols], y, reg)
            if (coef >= 0).any():
                continue
            ll = _log_likelihood(x[:, cols], y, b0, coef)
            if step is None or ll > step[0]:
                step = (ll, j)
        if step is None:
            break
        p_value = float(chi2.sf(2 * (step[0] - current), 1))
        if p_value > significance:
            break
        current = step[0]
        chosen.append(step[1])
        trials.append({"variables": len(chosen), "added": step[1], "p_value": p_value})
    return chosen


def select_variables(
    ivs: Sequence[float],
    x: np.ndarray,
    y: np.ndarray,
    params: Mapping[str, Any],
    trials: list[dict[str, Any]],
) -> list[int]:
    """The scorecard's variables (column indices of ``x``), by the 'selection' param."""
    pool = candidates(x, ivs, params["min_iv"], params["max_correlation"])
    if params["selection"] == "stepwise":
        chosen = stepwise(
            x, y, pool, params["max_variables"], params["reg"], trials, params["significance"]
        )
    elif params["selection"] == "iv":
        chosen = pool[: params["max_variables"]]
    else:
        chosen = pool
    return with_expected_signs(x, y, chosen, params["reg"])


def with_expected_signs(x: np.ndarray, y: np.ndarray, cols: list[int], reg: float) -> list[int]:
    """Drop, one at a time, the variable whose coefficient has the wrong sign (a WOE rise that
    raises the risk: a sign of collinearity), until every sign is right."""
    cols = list(cols)
    while cols:
        _, coef = fit_lr(x[:, cols], y, reg)
        if (coef < 0).all():
            break
        cols.pop(int(np.argmax(coef)))
    return cols


class TrainScorecard(Operator):
    id = "train.scorecard"
    reads_input_files = True
    version = 1
    category = "Models"
    title = "Scorecard"
    description = (
        "A credit scorecard: a logistic regression on the WOE features of features.woe (or, on a "
        "raw table, on WOE bins it fits itself), with the variables chosen by forward stepwise "
        "selection on validation AUC or by information value, then scaled to points: "
        "'base_score' points at odds of 'base_odds' to 1 (good to bad), and 'pdo' more points "
        "each time the odds double. The bundle carries a points table (points per variable and "
        "bin, also as points.csv); the scoring service returns the points next to the score and "
        "names the attributes that cost the most points."
    )
    inputs = (Port("train", "table", "Rows with WOE features (features.woe) or raw columns."),)
    outputs = (Port("model", "model", "The scorecard bundle with its points table."),)
    params = (
        LABEL,
        POSITIVE,
        Param(
            "selection",
            "string",
            "How variables are chosen: stepwise (forward, by the likelihood-ratio test), iv "
            "(the strongest by information value) or all (every candidate).",
            default="stepwise",
            enum=("stepwise", "iv", "all"),
            widget="select",
            title="Variable selection",
        ),
        Param(
            "max_variables",
            "integer",
            "The most variables the scorecard keeps.",
            default=10,
            minimum=1,
            maximum=100,
            widget="number",
            title="Maximum variables",
        ),
        Param(
            "min_iv",
            "number",
            "Variables with a lower information value are left out (0.02: useless below).",
            default=0.02,
            minimum=0,
            maximum=10,
            widget="number",
            title="Minimum IV",
        ),
        Param(
            "significance",
            "number",
            "Stepwise selection adds a variable only while its p-value (likelihood-ratio test) "
            "is below this.",
            default=0.05,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            widget="number",
            title="Entry significance",
        ),
        Param(
            "max_correlation",
            "number",
            "A variable whose WOE correlates more than this with a stronger one is left out.",
            default=0.7,
            minimum=0,
            maximum=1,
            widget="number",
            title="Maximum correlation",
        ),
        Param(
            "base_score",
            "number",
            "The points at the base odds.",
            default=600,
            widget="number",
            title="Base score",
        ),
        Param(
            "base_odds",
            "number",
            "The good:bad odds that score the base score (50 means 50 to 1).",
            default=50,
            minimum=0,
            exclusive_minimum=True,
            widget="number",
            title="Base odds",
        ),
        Param(
            "pdo",
            "number",
            "Points to double the odds.",
            default=20,
            minimum=0,
            exclusive_minimum=True,
            widget="number",
            title="Points to double the odds",
        ),
        Param(
            "reg",
            "number",
            "L2 regularization strength of the regression (mean log-loss + reg x L2).",
            default=1e-4,
            minimum=0,
            maximum=10,
            widget="number",
            title="Regularization",
        ),
        Param(
            "exclude",
            "array",
            "Columns left out when the bins are fitted here (raw input only), e.g. an id.",
            default=[],
            items={"type": "string"},
            widget="columns",
            title="Exclude",
        ),
        seed_param("Seed of the validation hold-out (20 % of the rows)."),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = f'{self.id} (node "{ctx.node_id}")'
        train = inputs["train"]
        label = params["label"]
        y_col, positive, classes = resolve_label(train, label, params.get("positive"), where)
        fitted, baseline = self._woe_input(ctx, train, params, where)
        if fitted is None:
            fitted, _ = fit_woe_transform(ctx, train, dict(params), where)
            train = apply_transform(with_row_key(train), fitted, [ROW_KEY])
        t0 = time.time()
        fit_part, valid_part = holdout(train, 0.2, params["seed"])
        x_fit, y_fit = _collect(fit_part, y_col, len(fitted["features"]))
        x_val, y_val = _collect(valid_part, y_col, len(fitted["features"]))
        if len(set(y_fit.tolist())) < 2 or len(set(y_val.tolist())) < 2:
            raise OperatorError(f"{where}: too few rows of each class to fit and validate.")
        trials: list[dict[str, Any]] = []
        x_all, y_all = np.vstack([x_fit, x_val]), np.concatenate([y_fit, y_val])
        ivs = [f["fitted"]["iv"] for f in fitted["features"]]
        # variables are chosen on every training row (the held-out 20 % then refit without
        # them: its figures are slightly optimistic; score a test split for honest ones)
        chosen = select_variables(ivs, x_all, y_all, params, trials)
        if not chosen:
            raise OperatorError(
                f"{where}: no variable reaches the minimum IV of {params['min_iv']} with the "
                "expected sign; lower 'min_iv' or check the label."
            )
        b0, coef = fit_lr(x_fit[:, chosen], y_fit, params["reg"])
        valid_scores = 1 / (1 + np.exp(-_margin(x_val[:, chosen], b0, coef)))
        threshold = ks_threshold(y_val, valid_scores)
        report = binary_report(y_val, valid_scores, threshold)
        intercept, coef = fit_lr(x_all[:, chosen], y_all, params["reg"])
        folder = ctx.artifact_dir("model")
        card = self._write(folder, fitted, chosen, intercept, coef, params)
        ctx.log(f"scorecard of {len(chosen)} variables: {', '.join(card['variables_order'])}")
        write_manifest(
            folder,
            {
                "model_type": "scorecard",
                "label": label,
                "positive": positive,
                "classes": classes,
                "threshold": threshold,
                "input_schema": card["transform"]["input_schema"],
                "transform": card["transform"],
                "scorecard": card["scorecard"],
                "params": {k: params[k] for k in ("selection", "max_variables", "min_iv", "reg")},
                "metrics": {
                    "valid_auc": report["auc"],
                    "valid_ks": report["ks"],
                    "valid_gini": 2 * report["auc"] - 1,
                    "valid_logloss": report["logloss"],
                    "train_seconds": time.time() - t0,
                },
                "selection": trials,
                "baseline": baseline,
                "score_baseline": score_baseline(valid_scores),
                "lineage": {"run_id": ctx.run_id, "node_id": ctx.node_id},
            },
        )
        ctx.set_metrics(
            {
                "valid_auc": report["auc"],
                "valid_ks": report["ks"],
                "variables": len(chosen),
                "threshold": threshold,
            }
        )
        return {"model": folder}

    @staticmethod
    def _woe_input(
        ctx: RunContext, train: Any, params: Mapping[str, Any], where: str
    ) -> tuple[dict[str, Any] | None, Any]:
        if not has_features(train):
            return None, ctx.input_statistics("train")
        fitted = transform_of_input(ctx, "train")
        if fitted is None or any(f["kind"] != "woe" for f in fitted["features"]):
            raise OperatorError(
                f"{where} takes WOE features (the train output of features.woe) or a raw table; "
                "its input has other feature columns. Link features.woe, or the raw rows."
            )
        return fitted, None

    @staticmethod
    def _write(
        folder: Any,
        fitted: Mapping[str, Any],
        chosen: list[int],
        intercept: float,
        coef: np.ndarray,
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        """coefficients.json (the linear scorer's), points.csv; returns the narrowed
        transform and the scorecard section of the manifest."""
        features = [fitted["features"][j] for j in chosen]
        names = [f.get("name") or f["column"] for f in features]
        bits = int(fitted["hash_bits"])
        while len({token_index(n, bits) for n in names}) < len(names):
            bits += 1  # two variables hashed alike: widen the space
        columns = {f["column"] for f in features} | {fitted["label"]}
        transform = {
            **fitted,
            "hash_bits": bits,
            "features": features,
            "input_schema": [c for c in fitted["input_schema"] if c["name"] in columns],
        }
        (folder / COEFFICIENTS).write_text(
            json.dumps(
                {
                    "intercept": intercept,
                    "indices": [token_index(n, bits) for n in names],
                    "weights": [float(c) for c in coef],
                }
            ),
            encoding="utf-8",
        )
        factor, offset = scaling(params["pdo"], params["base_score"], params["base_odds"])
        variables = [
            {"feature": f, "coefficient": float(c)} for f, c in zip(features, coef, strict=True)
        ]
        table = points_table(variables, intercept, factor, offset)
        (folder / POINTS_CSV).write_text(points_csv(table), encoding="utf-8")
        scorecard = {
            "pdo": params["pdo"],
            "base_score": params["base_score"],
            "base_odds": params["base_odds"],
            "factor": factor,
            "offset": offset,
            "intercept": intercept,
            "variables": [
                {"column": f["column"], "coefficient": float(c), "iv": f["fitted"]["iv"]}
                for f, c in zip(features, coef, strict=True)
            ],
            "points": table,
        }
        return {"transform": transform, "scorecard": scorecard, "variables_order": names}


def _collect(df: Any, y_col: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The WOE matrix (one column per woe feature, in the transform's order) and the labels."""
    table = stable_order(df.select(y_col.alias("y"), VALUE_COL)).toArrow()
    y = table.column("y").to_numpy().astype(np.int8)
    values = table.column(VALUE_COL).combine_chunks().values.to_numpy(zero_copy_only=False)
    return values.reshape(len(y), k).astype(float), y
