"""The search behind features.auto: AutoCross (Luo et al., KDD 2019) with guards against
held-out noise.

On rows collected to the driver (in an order fixed by their content) with a draw per row from
its identity (operators.modeling.holdout_draw):

- rows with a draw of at least VALID_SHARE fit the models; the others are held out, in two halves
  (A and B);
- every column becomes base features: discrete values for text, booleans and small integers;
  quantile buckets at 5, 10 and 20 granularities for numbers (multi-granularity discretization);
- a logistic regression on the base features (L-BFGS on the sparse one-hot design) gives each row
  a margin;
- candidates are scored by field-wise LR: only the new feature's weights are fitted on top of the
  current margin (Newton steps; one categorical feature's weights decouple), and the held-out
  AUC gain is measured on each half separately;
- pairs of columns are probed first (numbers at 10 buckets); the most promising pairs are then
  tried at every other granularity (categorical x numeric and numeric x numeric alike); an
  accepted cross may grow by one more column up to ``max_order`` (beam search);
- a cross is accepted only when its gain holds on both halves, and again once the whole model is
  refitted (warm-started); the search ends with a final check: the crossed model must beat the
  base model on the held-out rows, else it falls back to the base features and says so.

Everything is deterministic: the same rows give the same crosses on any master and partitioning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.opapi import quantile_boundaries

GRANULARITIES = (5, 10, 20)
PROBE_GRANULARITY = 10  # numbers enter the first round of pairs at this granularity
HIGHER_ORDER_GRANULARITY = 5  # a column added to an accepted cross: coarse, the cells get small
MAX_DISCRETE_INTEGERS = 30
VALID_SHARE = 0.3  # held out, in two halves
REFINE = 10  # the best pairs tried at every other granularity
RERANK = 12  # candidates re-scored after each accepted cross
NEWTON_STEPS = 4  # per field-wise fit (the weights of one categorical feature decouple)
MIN_CLASS_ROWS = 100  # rows of each class each held-out half needs to tell a cross from noise
NOISE_CONTROLS = 3  # shuffled copies of a candidate that estimate the noise of its gain
NOISE_FACTOR = 1.5  # a gain must exceed this many times that noise
BASE_LAMBDA = 1.0  # L2 strength of the search's LR (on the summed log-loss)


@dataclass
class Feature:
    """A base feature: its definition, column, granularity (numbers) and codes per row."""

    defn: dict[str, Any]
    column: str
    granularity: int | None
    codes: np.ndarray


@dataclass
class Budget:
    limit: int
    time_limit: float
    started: float
    used: int = 0
    stopped: str = ""

    def spend(self) -> bool:
        if self.used >= self.limit:
            self.stopped = f"the budget of {self.limit} evaluations was spent"
            return False
        if time.time() - self.started > self.time_limit:
            self.stopped = f"the time limit of {self.time_limit:g} s stopped the search early"
            return False
        self.used += 1
        return True


@dataclass
class Scored:
    members: tuple[int, ...]
    gain_a: float
    gain_b: float
    weights: np.ndarray = field(repr=False)

    @property
    def gain(self) -> float:
        return (self.gain_a + self.gain_b) / 2

    @property
    def key(self) -> tuple[float, float, tuple[int, ...]]:
        """Ranked by the gain on the worse half (a gain that holds on both), then the mean."""
        return (-round(min(self.gain_a, self.gain_b), 9), -round(self.gain, 9), self.members)


def base_features(table: Any, columns: list[Any], fit: np.ndarray) -> list[Feature]:
    """Every column's base features (see the module's description); bucket boundaries are
    quantiles of the fitting rows."""
    out: list[Feature] = []
    for f in columns:
        t = f.dataType.simpleString()
        values = table.column(f.name)
        integer = t in ("tinyint", "smallint", "int", "bigint")
        if t in ("string", "boolean") or (integer and _few_distinct(values)):
            defn = {"kind": "discrete", "column": f.name, "min_count": 5}
            out.append(Feature(defn, f.name, None, _discrete_codes(values, 5)))
        elif integer or t in ("float", "double") or t.startswith("decimal"):
            x = values.to_numpy(zero_copy_only=False).astype(float)
            seen: set[tuple[float, ...]] = set()
            for g in GRANULARITIES:
                bounds = quantile_boundaries(x[fit], g)
                if not bounds or tuple(bounds) in seen:
                    continue
                seen.add(tuple(bounds))
                codes = np.where(np.isnan(x), -1, np.searchsorted(bounds, x, side="right"))
                defn = {"kind": "bucket", "column": f.name, "buckets": g}
                if g != GRANULARITIES[0]:
                    defn["name"] = f"{f.name}_b{g}"
                out.append(Feature(defn, f.name, g, _dense(codes)))
    return out


class Search:
    def __init__(
        self,
        features: list[Feature],
        y: np.ndarray,
        draw: np.ndarray,
        params: Mapping[str, Any],
        log: Callable[[str], None],
    ):
        self.features, self.y, self.params, self.log = features, y.astype(float), params, log
        self.fit = draw >= VALID_SHARE
        self.half_a = draw < VALID_SHARE / 2
        self.half_b = ~self.fit & ~self.half_a
        self.valid = ~self.fit
        self.fit_idx = np.flatnonzero(self.fit)
        self.a_idx, self.b_idx = np.flatnonzero(self.half_a), np.flatnonzero(self.half_b)
        self.y_fit, self.y_a, self.y_b = (self.y[i] for i in (self.fit_idx, self.a_idx, self.b_idx))
        self._margin_parts: tuple[Any, ...] = (None,)
        self.cross_codes: dict[tuple[int, ...], np.ndarray] = {}
        self.noise_rejected: list[dict[str, Any]] = []
        self.search_started = time.time()
        self.rejected = 0

    # -- models -------------------------------------------------------------------------------
    def _design(self, blocks: list[np.ndarray]) -> Any:
        import scipy.sparse as sp

        offsets = np.cumsum([0] + [int(c.max()) + 1 for c in blocks])
        idx = np.column_stack([c + o for c, o in zip(blocks, offsets[:-1], strict=True)])
        n = len(self.y)
        return sp.csr_matrix(
            (np.ones(idx.size), idx.ravel(), np.arange(0, idx.size + 1, idx.shape[1])),
            shape=(n, int(offsets[-1])),
        )

    def _fit_lr(
        self, blocks: list[np.ndarray], warm: np.ndarray | None = None, maxiter: int = 300
    ) -> tuple[np.ndarray, np.ndarray]:
        """L2-regularized LR on the fitting rows (L-BFGS, warm-started from ``warm``: the
        previous weights, new columns at zero); returns (weights, margin of every row)."""
        from scipy.optimize import minimize

        x = self._design(blocks)
        xf, yf = x[self.fit], self.y[self.fit]
        xft = xf.T.tocsr()
        d = x.shape[1]
        w0 = np.zeros(d + 1)
        if warm is not None:
            w0[: len(warm)] = warm

        scale = 1.0 / len(yf)  # the mean log-loss: tolerances as scikit-learn's

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = xf @ w[1:] + w[0]
            loss = float(np.sum(np.logaddexp(0.0, z) - yf * z)) + 0.5 * BASE_LAMBDA * float(
                w[1:] @ w[1:]
            )
            r = _sigmoid(z) - yf
            grad = np.empty_like(w)
            grad[0] = r.sum()
            grad[1:] = xft @ r + BASE_LAMBDA * w[1:]
            return loss * scale, grad * scale

        res = minimize(
            objective, w0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": 1e-4}
        )
        w = res.x
        return w, x @ w[1:] + w[0]

    def _aucs(self, margin: np.ndarray) -> tuple[float, float, float]:
        return (
            _auc(self.y[self.half_a], margin[self.half_a]),
            _auc(self.y[self.half_b], margin[self.half_b]),
            _auc(self.y[self.valid], margin[self.valid]),
        )

    def _fieldwise(self, members: tuple[int, ...], margin: np.ndarray, base: tuple) -> Scored:
        codes = self._codes(members)
        k = int(codes.max()) + 1
        m_tr, m_a, m_b = self._parts(margin)
        c_tr = codes[self.fit_idx]
        w = np.zeros(k)
        for _ in range(NEWTON_STEPS):
            p = _sigmoid(m_tr + w[c_tr])
            g = np.bincount(c_tr, p - self.y_fit, minlength=k) + w
            h = np.bincount(c_tr, p * (1 - p), minlength=k) + 1.0
            w -= g / h
        a = _auc(self.y_a, m_a + w[codes[self.a_idx]]) - base[0]
        b = _auc(self.y_b, m_b + w[codes[self.b_idx]]) - base[1]
        return Scored(members, a, b, w)

    def _parts(self, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The margin of the fitting rows and of each half (kept while the margin is the same)."""
        if self._margin_parts[0] is not margin:
            self._margin_parts = (
                margin,
                margin[self.fit_idx],
                margin[self.a_idx],
                margin[self.b_idx],
            )
        return self._margin_parts[1], self._margin_parts[2], self._margin_parts[3]

    def _too_few_held_out(self) -> str | None:
        """Why no cross can be told from noise here, if so: a held-out half with fewer than
        MIN_CLASS_ROWS rows of a class."""
        for name, half in (("A", self.half_a), ("B", self.half_b)):
            positives = int(self.y[half].sum())
            least = min(positives, int(half.sum()) - positives)
            if least < MIN_CLASS_ROWS:
                return (
                    f"too few held-out rows to tell a cross from noise: half {name} has {least} "
                    f"rows of its rarer class, fewer than {MIN_CLASS_ROWS}; no crosses are searched"
                )
        return None

    def _noise(
        self, members: tuple[int, ...], margin: np.ndarray, current: tuple, budget: Budget
    ) -> float:
        """The gain a feature of the same shape but no signal shows: the candidate's codes
        shuffled among the rows (NOISE_CONTROLS times, seeded by the candidate), scored the same
        way; the root mean square of those gains. Each control counts as an evaluation."""
        codes = self._codes(members)
        rng = np.random.default_rng(list(members))
        gains = []
        for i in range(NOISE_CONTROLS):
            if not budget.spend():
                break
            key = (-1 - i, *members)
            self.cross_codes[key] = rng.permutation(codes)
            gains.append(self._fieldwise(key, margin, current).gain)
            del self.cross_codes[key]
        return float(np.sqrt(np.mean(np.square(gains)))) if gains else 0.0

    def _codes(self, members: tuple[int, ...]) -> np.ndarray:
        codes = self.cross_codes.get(members)
        if codes is None:
            combined = self.features[members[0]].codes.astype(np.int64)
            for m in members[1:]:
                combined = combined * (int(self.features[m].codes.max()) + 1)
                combined = combined + self.features[m].codes
            codes = self.cross_codes[members] = _dense(combined)
        return codes

    # -- candidates ---------------------------------------------------------------------------
    def _by_column(self, granularity: int) -> dict[str, int]:
        """Per column, its discrete feature or its bucket feature nearest ``granularity``."""
        out: dict[str, int] = {}
        for i, f in enumerate(self.features):
            best = out.get(f.column)
            if best is None or (
                f.granularity is not None
                and abs(f.granularity - granularity)
                < abs((self.features[best].granularity or 0) - granularity)
            ):
                out[f.column] = i
        return out

    def _pairs(self) -> list[tuple[int, ...]]:
        probe = list(self._by_column(PROBE_GRANULARITY).values())
        return [tuple(sorted((a, b))) for i, a in enumerate(probe) for b in probe[i + 1 :]]

    def _variants(self, members: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The same columns at every other combination of granularities."""
        options = [
            [j for j, f in enumerate(self.features) if f.column == self.features[m].column]
            for m in members
        ]
        out: list[tuple[int, ...]] = [()]
        for opts in options:
            out = [(*o, j) for o in out for j in opts]
        return [tuple(sorted(o)) for o in out if tuple(sorted(o)) != members]

    def _extensions(self, members: tuple[int, ...]) -> list[tuple[int, ...]]:
        used = {self.features[m].column for m in members}
        coarse = self._by_column(HIGHER_ORDER_GRANULARITY)
        return [tuple(sorted((*members, j))) for c, j in coarse.items() if c not in used]

    # -- the search -----------------------------------------------------------------------------
    def run(self, started: float) -> dict[str, Any]:
        """The search; ``started`` is when the node started (the time limit counts from it)."""
        p = self.params
        self.search_started = time.time()
        blocks = [f.codes for f in self.features]
        t0 = time.perf_counter()
        w, margin = self._fit_lr(blocks)
        fit_seconds = time.perf_counter() - t0
        base = self._aucs(margin)
        self.log(
            f"base features: {len(self.features)}, held-out AUC {base[2]:.4f} "
            f"(halves {base[0]:.4f} / {base[1]:.4f}), one LR fit {fit_seconds:.2f} s"
        )
        budget = Budget(p["max_candidates"], p["time_limit"], started)
        few = self._too_few_held_out()
        if few:
            self.log(few)
            budget.stopped = few
            return self._finish(blocks, w, base, base, [], budget, fit_seconds, started)
        current, accepted = base, []
        rejected: set[tuple[int, ...]] = set()
        scored = self._score(self._pairs(), margin, current, budget)
        # multi-granularity: the best pairs at every other granularity
        refine = [v for s in scored[:REFINE] for v in self._variants(s.members)]
        scored = _merge(scored, self._score(refine, margin, current, budget))
        while len(accepted) < p["max_crosses"] and scored:
            best = scored[0]
            if self._columns(best.members) in {self._columns(a["members"]) for a in accepted}:
                scored = scored[1:]  # these columns are crossed already, at other granularities
                continue
            if not _holds(best.gain_a, best.gain_b, p["min_gain"]):
                budget.stopped = budget.stopped or "no candidate gained enough on both halves"
                break
            noise = self._noise(best.members, margin, current, budget)
            if best.gain <= NOISE_FACTOR * noise:
                scored = scored[1:]
                rejected.add(best.members)
                self.noise_rejected.append(
                    {
                        "cross": self._label(best.members),
                        "gain": round(best.gain, 5),
                        "noise": round(noise, 5),
                    }
                )
                continue
            # the field-wise fit joins the model (the other weights stay: the final check
            # refits them all); its gain is re-measured against the current model
            codes = self._codes(best.members)
            m_new = margin + best.weights[codes]
            now = self._aucs(m_new)
            scored = scored[1:]
            if not _holds(now[0] - current[0], now[1] - current[1], p["min_gain"]):
                rejected.add(best.members)  # scored on an older margin: the gain is gone
                self.rejected += 1
                continue
            blocks, margin = [*blocks, codes], m_new
            w = np.concatenate([w, best.weights])
            accepted.append(self._accepted(best, now, current))
            current = now
            taken = {a["members"] for a in accepted} | rejected
            fresh = [m for m in self._extensions(best.members) if len(m) <= p["max_order"]]
            again = [s.members for s in scored[:RERANK]] + fresh
            again = [m for m in dict.fromkeys(again) if m not in taken]
            rescored = self._score(again, margin, current, budget)
            scored = _merge(rescored, [s for s in scored[RERANK:] if s.members not in taken])
            if budget.stopped:
                break
        return self._finish(blocks, w, base, current, accepted, budget, fit_seconds, started)

    def _score(
        self, candidates: list[tuple[int, ...]], margin: np.ndarray, current: tuple, budget: Budget
    ) -> list[Scored]:
        out = []
        for members in dict.fromkeys(candidates):
            if not budget.spend():
                break
            out.append(self._fieldwise(members, margin, current))
        return sorted(out, key=lambda s: s.key)

    def _accepted(self, best: Scored, now: tuple, before: tuple) -> dict[str, Any]:
        gain = now[2] - before[2]
        self.log(
            f"accepted {self._label(best.members)}: held-out AUC {now[2]:.4f} ({gain:+.4f}; "
            f"halves {now[0] - before[0]:+.4f} / {now[1] - before[1]:+.4f})"
        )
        return {
            "members": best.members,
            "cross": self._label(best.members),
            "valid_auc": round(now[2], 5),
            "gain": round(gain, 5),
            "gain_halves": [round(now[0] - before[0], 5), round(now[1] - before[1], 5)],
        }

    def _finish(
        self,
        blocks: list[np.ndarray],
        w: np.ndarray,
        base: tuple,
        current: tuple,
        accepted: list[dict[str, Any]],
        budget: Budget,
        fit_seconds: float,
        started: float,
    ) -> dict[str, Any]:
        """The final check: the crossed model, refitted to convergence, against the base model
        on the held-out rows; the base features alone when the crosses do not beat it."""
        fallback = None
        final = current
        if accepted:
            _, margin = self._fit_lr(blocks, warm=w)
            final = self._aucs(margin)
            if final[2] <= base[2]:
                fallback = (
                    f"the crossed model's held-out AUC {final[2]:.4f} did not beat the base "
                    f"model's {base[2]:.4f}: no crosses are used"
                )
                self.log(fallback)
        chosen = [] if fallback else accepted
        config = [dict(f.defn) for f in self.features] + [
            {"kind": "combine", "of": [_member(self.features[i].defn) for i in a["members"]]}
            for a in chosen
        ]
        # the search proper (from the base model's fit to the final check): the rows' collection
        # and the base features' codes come before it, the fit on all of `train` after it
        seconds = time.time() - self.search_started
        return {
            "config": config,
            "base_features": len(self.features),
            "base_auc": round(base[2], 5),
            "final_auc": round(base[2] if fallback else final[2], 5),
            "accepted": [{k: v for k, v in a.items() if k != "members"} for a in chosen],
            "fallback": fallback,
            "rejected_as_stale": self.rejected,
            "rejected_as_noise": self.noise_rejected,
            "evaluations": budget.used,
            "stopped": budget.stopped or "the candidates ran out",
            "sampled_rows": int(len(self.y)),
            "held_out_rows": int(self.valid.sum()),
            "lr_fit_seconds": round(fit_seconds, 3),
            "search_seconds": round(seconds, 3),
            "search_cost_in_lr_fits": round(seconds / max(fit_seconds, 1e-6), 2),
        }

    def _columns(self, members: tuple[int, ...]) -> frozenset[str]:
        return frozenset(self.features[m].column for m in members)

    def _label(self, members: tuple[int, ...]) -> str:
        return " x ".join(_label(self.features[i].defn) for i in members)


def _holds(gain_a: float, gain_b: float, min_gain: float) -> bool:
    """A gain that is real: positive on both held-out halves, and at least ``min_gain`` on
    average (a gain on one half only is what noise gives)."""
    return gain_a > 0 and gain_b > 0 and (gain_a + gain_b) / 2 >= min_gain


def _merge(a: list[Scored], b: list[Scored]) -> list[Scored]:
    seen: dict[tuple[int, ...], Scored] = {s.members: s for s in b}
    seen.update({s.members: s for s in a})
    return sorted(seen.values(), key=lambda s: s.key)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """The area under the ROC curve (Mann-Whitney, tied scores counted half)."""
    pos = y > 0.5
    n_pos = int(pos.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(s, kind="stable")
    sorted_s = s[order]
    # average ranks (1-based) over runs of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    run_rank = (starts + ends + 1) / 2.0
    ranks = np.repeat(run_rank, ends - starts)
    rank_pos = float(ranks[pos[order]].sum())
    return (rank_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _label(defn: Mapping[str, Any]) -> str:
    return f"{defn['kind']}({defn['column']}{', ' + str(defn['buckets']) if 'buckets' in defn else ''})"


def _member(defn: Mapping[str, Any]) -> dict[str, Any]:
    """A base feature as a member of a cross (a cross names its members by column)."""
    return {k: v for k, v in defn.items() if k != "name"}


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..k-1 in the order of their values (a missing value, -1, is a value
    of its own): by counting when the values are few, else by sorting."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    if len(codes) == 0:
        return codes
    low, high = int(codes.min()), int(codes.max())
    if high - low < 4 * len(codes) + 1024:
        present = np.bincount(codes - low, minlength=high - low + 1) > 0
        return (np.cumsum(present) - 1)[codes - low]
    return np.unique(codes, return_inverse=True)[1].astype(np.int64).ravel()


def _few_distinct(values: Any) -> bool:
    import pyarrow.compute as pc

    return pc.count_distinct(values).as_py() <= MAX_DISCRETE_INTEGERS


def _discrete_codes(values: Any, min_count: int) -> np.ndarray:
    import pyarrow.compute as pc

    text = pc.cast(values, "string").to_pylist()
    keys = np.array(["\x00missing" if v is None else v for v in text], dtype=object)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    rare = counts[inverse] < min_count
    return _dense(np.where(rare, -1, inverse))
