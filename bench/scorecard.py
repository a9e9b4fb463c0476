"""Scorecard quality on real data, side by side with the references on the same rows.

    .venv/bin/python bench/scorecard.py [--datasets german,credit] [--folds 5] [--repeats 2]

German Credit (1,000 rows): repeated stratified k-fold cross-validation on the driver, with the
functions features.woe and train.scorecard run (optimal WOE bins fitted on each training fold,
stepwise or IV selection, at most ten variables) against LightGBM's defaults (LGBMClassifier())
on exactly the same folds.
Credit Default (30,000 rows): the same cross-validation, the scorecard against train.hdlr's
model on one-hot + quantile buckets (its default transform: ten buckets per number, discrete
values of text) fitted with the same scikit-learn solver train.hdlr uses on the driver.

Needs ../shared/data. Prints one JSON document; docs/BENCHMARKS.md records the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from engine.features.online import compile_transform  # noqa: E402
from operators.scorecard import fit_lr, select_variables  # noqa: E402
from operators.woe_binning import fit_woe_column  # noqa: E402

CARD = {
    "min_iv": 0.02,
    "max_correlation": 0.7,
    "max_variables": 10,
    "reg": 1e-4,
    "significance": 0.05,
}
WOE = {"min_bin_share": 0.05, "max_bins": 10, "monotonic_trend": "auto"}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "german":
        df = pd.read_csv(DATA / "german_credit" / "german.data", sep=" ")
        y = (1 - df.pop("CLASSIFICATION")).to_numpy()  # bad = 1
    else:
        df = pd.read_csv(DATA / "credit_default" / "default_of_credit_card_clients.csv")
        df = df.drop(columns=["ID"])
        y = df.pop("default_payment_next_month").to_numpy()
    return df, y


def _types(df: pd.DataFrame) -> dict[str, str]:
    return {c: ("string" if df[c].dtype == object else "double") for c in df.columns}


def woe_matrix(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> dict[str, Any]:
    types = _types(train)
    features = []
    for c in train.columns:
        x = train[c].to_numpy(dtype=object if types[c] == "string" else float)
        features.append(fit_woe_column(c, types[c], x, y, WOE))
    fitted = {
        "seer_transform": 1,
        "hash_bits": 20,
        "label": None,
        "input_schema": [{"name": c, "type": t} for c, t in types.items()],
        "features": features,
    }
    t = compile_transform(fitted)

    def matrix(df: pd.DataFrame) -> np.ndarray:
        return np.array([[v for _, v in t.tokens(r)] for r in df.to_dict("records")])

    return {
        "x": matrix(train),
        "x_test": matrix(test),
        "ivs": [f["fitted"]["iv"] for f in features],
    }


def scorecard_auc(train, y, test, y_test, selection: str, significance: float) -> tuple[float, int]:
    from sklearn.metrics import roc_auc_score

    m = woe_matrix(train, y, test)
    params = {**CARD, "selection": selection, "significance": significance}
    chosen = select_variables(m["ivs"], m["x"], y, params, [])
    b0, coef = fit_lr(m["x"][:, chosen], y, CARD["reg"])
    return float(roc_auc_score(y_test, m["x_test"][:, chosen] @ coef)), len(chosen)


def lightgbm_auc(train, y, test, y_test) -> float:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    train, test = train.copy(), test.copy()
    for c in train.columns:
        if train[c].dtype == object:
            cats = sorted(set(train[c]))
            train[c] = pd.Categorical(train[c], categories=cats)
            test[c] = pd.Categorical(test[c], categories=cats)
    model = lgb.LGBMClassifier(verbose=-1, random_state=0, deterministic=True, n_jobs=2)
    model.fit(train, y)
    return float(roc_auc_score(y_test, model.predict_proba(test)[:, 1]))


def onehot_buckets_lr_auc(train, y, test, y_test) -> float:
    """train.hdlr's default transform (ten quantile buckets per number, one-hot of text) and
    its driver solver (L2 logistic regression, lbfgs), strength tuned on a 20 % hold-out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    num = [c for c in train.columns if train[c].dtype != object]
    cat = [c for c in train.columns if train[c].dtype == object]
    parts_tr, parts_te = [], []
    if num:
        kb = KBinsDiscretizer(n_bins=10, encode="onehot", strategy="quantile", subsample=None)
        parts_tr.append(kb.fit_transform(train[num]))
        parts_te.append(kb.transform(test[num]))
    if cat:
        oh = OneHotEncoder(handle_unknown="ignore", min_frequency=5)
        parts_tr.append(oh.fit_transform(train[cat]))
        parts_te.append(oh.transform(test[cat]))
    import scipy.sparse as sp

    xtr, xte = sp.hstack(parts_tr).tocsr(), sp.hstack(parts_te).tocsr()
    rng = np.random.default_rng(0)
    hold = rng.random(len(y)) < 0.2
    best = None
    for reg in np.logspace(-6, -1, 8):
        c = 1 / (reg * (~hold).sum())
        m = LogisticRegression(C=c, max_iter=1000).fit(xtr[~hold], y[~hold])
        auc = roc_auc_score(y[hold], m.decision_function(xtr[hold]))
        if best is None or auc > best[0]:
            best = (auc, reg)
    m = LogisticRegression(C=1 / (best[1] * len(y)), max_iter=1000).fit(xtr, y)
    return float(roc_auc_score(y_test, m.decision_function(xte)))


def cross_validate(name: str, folds: int, repeats: int) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    df, y = load(name)
    runs: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    t0 = time.time()
    for r in range(repeats):
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=r).split(df, y):
            a, b, ya, yb = df.iloc[tr], df.iloc[te], y[tr], y[te]
            for sel, sig in (("stepwise", 0.05), ("iv", 0.05)):
                auc, n = scorecard_auc(a, ya, b, yb, sel, sig)
                runs.setdefault(f"scorecard_{sel}", []).append(auc)
                sizes.setdefault(f"scorecard_{sel}", []).append(n)
            if name == "german":
                runs.setdefault("lightgbm_defaults", []).append(lightgbm_auc(a, ya, b, yb))
            else:
                runs.setdefault("hdlr_onehot_buckets", []).append(
                    onehot_buckets_lr_auc(a, ya, b, yb)
                )
    return {
        "dataset": name,
        "rows": len(y),
        "protocol": f"{repeats} x {folds}-fold stratified cross-validation",
        "auc_mean": {k: round(float(np.mean(v)), 4) for k, v in runs.items()},
        "auc_std": {k: round(float(np.std(v)), 4) for k, v in runs.items()},
        "variables_mean": {k: round(float(np.mean(v)), 1) for k, v in sizes.items()},
        "seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="german,credit")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found: the benchmark needs the shared data sets.")
    out = [cross_validate(n, args.folds, args.repeats) for n in args.datasets.split(",")]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
