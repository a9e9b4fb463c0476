"""features.auto: automatic feature engineering in the spirit of AutoCross (4Paradigm, KDD 2019).

On a deterministic sample of `train`, on the driver:
1. every column becomes base features: discrete values for text, booleans and small integers;
   quantile buckets at several granularities for numbers (multi-granularity discretization);
2. a logistic regression on the base features gives each row a margin;
3. candidate crosses (pairs of base features, then the accepted crosses with one more feature)
   are scored by field-wise LR: only the new feature's weights are fitted, on top of the current
   margin, and the candidate's validation AUC is measured on a held-out part of the sample;
4. the best candidate is accepted when it gains enough AUC, the model is refitted, and the
   search goes on until the budget of candidate evaluations is spent (or the gain runs out, or
   the wall-clock cap stops it, which the report says).
The result is an ordinary feature configuration (readable, editable), fitted on all of `train`
with Spark and applied to `train` and `test` like features.extract does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    Param,
    Port,
    RunContext,
    TableSchema,
    binary_report,
    fit_features,
    quantile_boundaries,
    seed_param,
    to_text,
)
from operators.features import FeaturesExtract, emit_transformed
from operators.modeling import (
    LABEL,
    NUMERIC,
    POSITIVE,
    col,
    holdout,
    resolve_label,
    single_blas_thread,
    stable_order,
)

GRANULARITIES = (5, 10, 20)
CROSS_GRANULARITY = 10
MAX_DISCRETE_INTEGERS = 30
RERANK = 12  # candidates re-scored after each accepted cross


class FeaturesAuto(Operator):
    id = "features.auto"
    version = 1
    category = "Features"
    title = "Automatic features"
    description = (
        "Finds features on its own: buckets every number at several granularities, keeps text "
        "and small integers as discrete values, and searches crosses of two or three features, "
        "each scored by the validation AUC a fast logistic regression gains with it (field-wise "
        "LR on a held-out part of a sample of `train`; `test` is only transformed, never used to "
        "choose). The budget is a number of candidate evaluations, so the same data always gives "
        "the same features; a wall-clock cap may stop the search early and the report says so. "
        "Outputs the transformed tables, the fitted transform and a report of every accepted "
        "cross with its gain; the chosen configuration can be copied into features.extract."
    )
    inputs = FeaturesExtract.inputs
    outputs = (
        *FeaturesExtract.outputs,
        Port("report", "report", "The search: base AUC, accepted crosses, gains."),
    )
    params = (
        LABEL,
        POSITIVE,
        Param(
            "max_candidates",
            "integer",
            "Budget: candidate crosses evaluated in all.",
            default=200,
            minimum=1,
            maximum=10_000,
            widget="number",
        ),
        Param(
            "max_crosses",
            "integer",
            "At most this many crosses are accepted.",
            default=12,
            minimum=0,
            maximum=200,
            widget="number",
        ),
        Param(
            "max_order",
            "integer",
            "Largest number of features in one cross.",
            default=3,
            minimum=2,
            maximum=4,
            widget="number",
        ),
        Param(
            "min_gain",
            "number",
            "Smallest validation AUC gain that accepts a cross.",
            default=0.0003,
            minimum=0,
            maximum=0.1,
            widget="number",
        ),
        Param(
            "sample_rows",
            "integer",
            "Rows of `train` the search uses.",
            default=100_000,
            minimum=1000,
            widget="number",
        ),
        Param(
            "time_limit",
            "integer",
            "Wall-clock cap on the search, in seconds.",
            default=300,
            minimum=10,
            widget="number",
        ),
        Param(
            "hash_bits",
            "integer",
            "Size of the hashed feature space: 2^hash_bits dimensions.",
            default=22,
            minimum=10,
            maximum=30,
            widget="number",
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
            "keep",
            "array",
            "Other columns to pass through.",
            default=[],
            items={"type": "string"},
            widget="columns",
        ),
        seed_param("Seed of the sample and the internal validation split."),
    )

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return FeaturesExtract().infer_schema(inputs, params)

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = ctx.where
        train = inputs["train"]
        label = params["label"]
        y_col, positive, _ = resolve_label(train, label, params.get("positive"), where)
        started = time.time()
        rows = train.count()
        sample = train
        if rows > params["sample_rows"]:
            sample, _ = holdout(train, 1 - params["sample_rows"] / rows, params["seed"] + 7)
        columns = [
            f for f in train.schema.fields if f.name != label and f.name not in params["exclude"]
        ]
        table = stable_order(
            sample.select(y_col.alias("__y"), *[col(f.name) for f in columns])
        ).toArrow()
        y = table.column("__y").to_numpy().astype(np.int8)
        ctx.log(f"searching on {len(y):,} sampled rows of {rows:,}")
        search = _Search(table, columns, y, params, ctx)
        result = search.run(started)
        config = result["config"]
        ctx.log(f"chosen features:\n{to_text(config)}")
        fitted = fit_features(train, config, params["hash_bits"], label, log=ctx.log)
        out = emit_transformed(ctx, fitted, train, inputs.get("test"), params["keep"])
        report = {k: v for k, v in result.items() if k != "config"}
        report.update(
            features=config,
            features_text=to_text(config),
            positive=positive,
            seconds=round(time.time() - started, 2),
        )
        out["report"] = report
        ctx.set_metrics(
            {
                "base_auc": report["base_auc"],
                "final_auc": report["final_auc"],
                "crosses": len(report["accepted"]),
                "evaluations": report["evaluations"],
            }
        )
        return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return binary_report(y, s, 0.5)["auc"]


class _Search:
    def __init__(
        self,
        table: Any,
        columns: list[Any],
        y: np.ndarray,
        params: Mapping[str, Any],
        ctx: RunContext,
    ):
        self.params, self.ctx, self.y = params, ctx, y
        n = len(y)
        rng = np.random.default_rng(params["seed"])
        self.is_valid = rng.random(n) < 0.25
        self.base: list[dict[str, Any]] = []  # base feature definitions
        self.codes: list[np.ndarray] = []  # per base feature: an integer code per row
        self.crossable: list[int] = []  # base features that may enter a cross
        for f in columns:
            t = f.dataType.simpleString()
            values = table.column(f.name)
            if t in ("string", "boolean") or (t in NUMERIC[:4] and _few_distinct(values)):
                self._add(
                    {"kind": "discrete", "column": f.name, "min_count": 5},
                    _discrete_codes(values, 5),
                    crossable=True,
                )
            elif t in NUMERIC or t.startswith("decimal"):
                x = values.to_numpy(zero_copy_only=False).astype(float)
                for g in GRANULARITIES:
                    bounds = quantile_boundaries(x[~self.is_valid], g)
                    if not bounds:
                        continue
                    codes = np.where(np.isnan(x), -1, np.searchsorted(bounds, x, side="right"))
                    defn = {"kind": "bucket", "column": f.name, "buckets": g}
                    if g != GRANULARITIES[0]:
                        defn["name"] = f"{f.name}_b{g}"
                    self._add(defn, _dense(codes), crossable=(g == CROSS_GRANULARITY))

    def _add(self, defn: dict[str, Any], codes: np.ndarray, crossable: bool) -> None:
        self.base.append(defn)
        self.codes.append(codes)
        if crossable:
            self.crossable.append(len(self.base) - 1)

    # -- models -------------------------------------------------------------------------------
    def _design(self, feature_codes: list[np.ndarray]) -> Any:
        import scipy.sparse as sp

        blocks, offset = [], 0
        n = len(self.y)
        for c in feature_codes:
            blocks.append(c + offset)
            offset += int(c.max()) + 1
        idx = np.column_stack(blocks)
        return sp.csr_matrix(
            (np.ones(idx.size), idx.ravel(), np.arange(0, idx.size + 1, idx.shape[1])),
            shape=(n, offset),
        )

    def _fit_full(self, feature_codes: list[np.ndarray]) -> tuple[np.ndarray, float]:
        """LR on all current features; returns the margin of every row and the validation AUC."""
        import warnings

        from sklearn.linear_model import LogisticRegression

        x = self._design(feature_codes)
        tr, va = ~self.is_valid, self.is_valid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with single_blas_thread():
                model = LogisticRegression(C=self.c, max_iter=300, tol=1e-5).fit(x[tr], self.y[tr])
        margin = model.decision_function(x)
        return margin, _auc(self.y[va], margin[va])

    def _fieldwise(self, codes: np.ndarray, margin: np.ndarray) -> float:
        """Validation AUC with one new feature fitted on top of a fixed margin (Newton steps per
        value: the weights of one categorical feature decouple)."""
        tr, va = ~self.is_valid, self.is_valid
        k = int(codes.max()) + 1
        c_tr, y_tr, m_tr = codes[tr], self.y[tr], margin[tr]
        w = np.zeros(k)
        lam = 1.0
        for _ in range(6):
            p = _sigmoid(m_tr + w[c_tr])
            g = np.bincount(c_tr, p - y_tr, minlength=k) + lam * w
            h = np.bincount(c_tr, p * (1 - p), minlength=k) + lam
            w -= g / h
        seen = np.bincount(c_tr, minlength=k) > 0
        w = np.where(seen, w, 0.0)
        return _auc(self.y[va], margin[va] + w[codes[va]])

    # -- the search -----------------------------------------------------------------------------
    def run(self, started: float) -> dict[str, Any]:
        p = self.params
        self.c = self._choose_c()
        current = list(range(len(self.base)))
        feature_codes = [self.codes[i] for i in current]
        margin, base_auc = self._fit_full(feature_codes)
        self.ctx.log(f"base features: {len(self.base)}, validation AUC {base_auc:.4f}")
        auc = base_auc
        accepted: list[dict[str, Any]] = []
        cross_codes: dict[tuple[int, ...], np.ndarray] = {}
        pending = [(a, b) for i, a in enumerate(self.crossable) for b in self.crossable[i + 1 :]]
        ranking: list[tuple[float, tuple[int, ...]]] = []
        evaluations, stopped = 0, "the candidates ran out"
        first_round = True
        while True:
            if len(accepted) >= p["max_crosses"]:
                stopped = "max_crosses was reached"
                break
            batch = pending if first_round else [c for _, c in ranking[:RERANK]] + pending
            batch = [
                c for c in dict.fromkeys(batch) if c not in {tuple(a["members"]) for a in accepted}
            ]
            if not batch:
                break
            scored = []
            for cand in batch:
                if evaluations >= p["max_candidates"]:
                    stopped = f"the budget of {p['max_candidates']} evaluations was spent"
                    break
                if time.time() - started > p["time_limit"]:
                    stopped = f"the time limit of {p['time_limit']} s stopped the search early"
                    break
                codes = cross_codes.get(cand)
                if codes is None:
                    codes = cross_codes[cand] = _cross(self.codes, cand)
                scored.append((self._fieldwise(codes, margin) - auc, cand))
                evaluations += 1
            pending = []
            first_round = False
            if not scored:
                break
            scored.sort(key=lambda t: (-t[0], t[1]))
            gain, best = scored[0]
            ranking = scored[1:] + [r for r in ranking if r[1] not in {c for _, c in scored}]
            if gain < p["min_gain"]:
                stopped = "no candidate gained enough"
                break
            feature_codes.append(cross_codes[best])
            new_margin, new_auc = self._fit_full(feature_codes)
            if new_auc - auc < p["min_gain"]:  # the gain did not hold up in the full model
                feature_codes.pop()
                ranking = [r for r in ranking if r[1] != best]
                continue
            margin, real_gain, auc = new_margin, new_auc - auc, new_auc
            accepted.append(
                {
                    "members": list(best),
                    "cross": " x ".join(_label(self.base[i]) for i in best),
                    "valid_auc": round(auc, 5),
                    "gain": round(real_gain, 5),
                }
            )
            self.ctx.log(
                f"accepted {accepted[-1]['cross']}: validation AUC {auc:.4f} (+{real_gain:.4f})"
            )
            if len(best) < p["max_order"]:
                pending = [tuple(sorted((*best, b))) for b in self.crossable if b not in best]
            if evaluations >= p["max_candidates"]:
                stopped = f"the budget of {p['max_candidates']} evaluations was spent"
                break
        config = [dict(d) for d in self.base] + [
            {"kind": "combine", "of": [_member(self.base[i]) for i in a["members"]]}
            for a in accepted
        ]
        return {
            "config": config,
            "base_features": len(self.base),
            "base_auc": round(base_auc, 5),
            "final_auc": round(auc, 5),
            "accepted": [{k: v for k, v in a.items() if k != "members"} for a in accepted],
            "evaluations": evaluations,
            "stopped": stopped,
            "sampled_rows": int(len(self.y)),
        }

    def _choose_c(self) -> float:
        """The base model's regularization, from three settings by validation AUC."""
        best = None
        for c in (0.05, 0.3, 2.0):
            self.c = c
            _, auc = self._fit_full(self.codes)
            if best is None or auc > best[0]:
                best = (auc, c)
        return best[1]


def _label(defn: Mapping[str, Any]) -> str:
    return f"{defn['kind']}({defn['column']}{', ' + str(defn['buckets']) if 'buckets' in defn else ''})"


def _member(defn: Mapping[str, Any]) -> dict[str, Any]:
    """A base feature as a member of a cross (a cross names its members by column)."""
    return {k: v for k, v in defn.items() if k != "name"}


def _cross(codes: list[np.ndarray], members: tuple[int, ...]) -> np.ndarray:
    combined = codes[members[0]].astype(np.int64)
    for m in members[1:]:
        combined = combined * (int(codes[m].max()) + 1) + codes[m]
    return _dense(combined)


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..k-1 (a missing value, -1, is a value of its own)."""
    return np.unique(codes, return_inverse=True)[1].astype(np.int64)


def _few_distinct(values: Any) -> bool:
    import pyarrow.compute as pc

    return pc.count_distinct(values).as_py() <= MAX_DISCRETE_INTEGERS


def _discrete_codes(values: Any, min_count: int) -> np.ndarray:
    import pyarrow.compute as pc

    text = pc.cast(values, "string").to_pylist()
    keys = np.array(["\x00missing" if v is None else v for v in text], dtype=object)
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    rare = counts[inverse] < min_count
    inverse = np.where(rare, -1, inverse)
    return _dense(inverse)
