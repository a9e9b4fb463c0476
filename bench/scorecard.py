"""Scorecard quality on real data, side by side with the references on the same rows.

    .venv/bin/python bench/scorecard.py [--datasets german,credit] [--folds 5] [--repeats 2]

German Credit (1,000 rows): repeated stratified k-fold cross-validation on the driver, with the
functions features.woe and train.scorecard run (optimal WOE bins fitted on each training fold,
stepwise or IV selection, at most ten variables) against LightGBM's defaults (LGBMClassifier())
on exactly the same folds.
Credit Default (30,000 rows): the same cross-validation, the scorecard against train.hdlr's
model on one-hot + quantile buckets (its default transform: ten buckets per number, discrete
values of text) fitted with the same scikit-learn solver train.hdlr uses on the driver.

Codes as categories: Credit Default's SEX, EDUCATION, MARRIAGE and PAY_0..PAY_6 are integer
codes (SOURCE.txt); the scorecard bins them as categories (features.woe's 'as_categories'),
the one-hot + buckets baseline buckets them as numbers, as train.hdlr's default transform does.

With --flows, the same comparison also runs as Seer flows on one fixed, seeded 80/20 split
(split -> features.woe -> train.scorecard -> predict -> evaluate.binary, and split ->
train.hdlr on the raw columns, i.e. its default one-hot + buckets transform -> predict), so
train.hdlr itself is the baseline.

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
CODES = {
    "german": [],
    "credit": ["SEX", "EDUCATION", "MARRIAGE", *[f"PAY_{i}" for i in (0, 2, 3, 4, 5, 6)]],
}


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


def woe_matrix(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, codes: list[str]
) -> dict[str, Any]:
    types = _types(train)
    for c in codes:
        types[c] = "int"
    features = []
    for c in train.columns:
        x = train[c].to_numpy(dtype=float if types[c] == "double" else object)
        features.append(fit_woe_column(c, types[c], x, y, WOE, None, c in codes))
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


def scorecard_auc(
    train, y, test, y_test, selection: str, significance: float, codes: list[str]
) -> tuple[float, int]:
    from sklearn.metrics import roc_auc_score

    m = woe_matrix(train, y, test, codes)
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
                auc, n = scorecard_auc(a, ya, b, yb, sel, sig, CODES[name])
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


def flow_for(name: str) -> dict[str, Any]:
    """The two models as one Seer flow on a fixed, seeded split of the same rows."""
    if name == "german":
        load = {"path": str(DATA / "german_credit" / "german.data"), "delimiter": " "}
        query, label, drop = (
            "SELECT *, 1 - CLASSIFICATION AS bad FROM load",
            "bad",
            ["CLASSIFICATION"],
        )
    else:
        load = {"path": str(DATA / "credit_default" / "default_of_credit_card_clients.csv")}
        query, label, drop = "SELECT * FROM load", "default_payment_next_month", ["ID"]
    nodes = [
        {"id": "load", "op": "import.csv", "params": load},
        {"id": "label", "op": "transform.sql", "params": {"query": query}},
        {"id": "drop", "op": "clean.select", "params": {"drop": drop}},
        {"id": "split", "op": "split", "params": {"ratio": 0.8, "seed": 1, "stratify": label}},
        {
            "id": "woe",
            "op": "features.woe",
            "params": {"label": label, "as_categories": CODES[name]},
        },
        {"id": "card", "op": "train.scorecard", "params": {"label": label}},
        {"id": "lr", "op": "train.hdlr", "params": {"label": label}},
        {"id": "score_card", "op": "predict", "params": {}},
        {"id": "score_lr", "op": "predict", "params": {}},
        {"id": "eval", "op": "evaluate.binary", "params": {}},
    ]
    pairs = [
        ("load.out", "label.in"), ("label.out", "drop.in"), ("drop.out", "split.in"),
        ("split.train", "woe.train"), ("woe.train", "card.train"), ("split.train", "lr.train"),
        ("card.model", "score_card.model"), ("split.test", "score_card.data"),
        ("lr.model", "score_lr.model"), ("split.test", "score_lr.data"),
        ("score_card.out", "eval.scored"), ("score_lr.out", "eval.scored"),
    ]  # fmt: skip
    links = [
        {"from": dict(zip(("node", "port"), a.split("."), strict=True)),
         "to": dict(zip(("node", "port"), b.split("."), strict=True))}
        for a, b in pairs
    ]  # fmt: skip
    return {"seer_flow": 1, "name": f"scorecard-{name}", "nodes": nodes, "links": links}


_TMP: Any = None


def run_flows(name: str) -> dict[str, Any]:
    import os
    import tempfile

    # the shared data sets are read in place: a data root of the flow
    os.environ["SEER_DATA_ROOTS"] = os.pathsep.join(
        p for p in (os.environ.get("SEER_DATA_ROOTS", ""), str(DATA)) if p
    )
    from engine.flow import parse_flow, prepare_flow
    from engine.runner import Runner, RunOptions
    from engine.workspace import Workspace

    # one workspace for every flow of the process: the Spark session keeps its scratch space
    # in the first one
    global _TMP
    if _TMP is None:
        _TMP = tempfile.TemporaryDirectory()
    ws = Workspace(Path(_TMP.name) / "ws")
    prepared = prepare_flow(parse_flow(json.dumps(flow_for(name))))
    t0 = time.time()
    result = Runner(ws).run(prepared, RunOptions(max_parallel=1))
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    by = result.nodes["eval"].metrics["by_input"]
    return {
        "dataset": name,
        "protocol": "fixed 80/20 split (split node, seed 1, stratified), Seer flows",
        "scorecard_auc": round(by["score_card"]["auc"], 4),
        "hdlr_onehot_buckets_auc": round(by["score_lr"]["auc"], 4),
        "scorecard_variables": result.nodes["card"].metrics["variables"],
        "seconds": {n: round(v.seconds, 1) for n, v in result.nodes.items()},
        "total_seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="german,credit")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--flows", action="store_true", help="also run the fixed-split flows")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found: the benchmark needs the shared data sets.")
    names = args.datasets.split(",")
    out = [] if args.no_cv else [cross_validate(n, args.folds, args.repeats) for n in names]
    if args.flows:
        out += [run_flows(n) for n in names]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
