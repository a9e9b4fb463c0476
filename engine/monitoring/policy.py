"""A model's watch policy: the alert rules and the retraining policy `seer models watch` sets.

One record per model name in the workspace store (``model_watch``), the policy as JSON, so a
rule added later needs no schema change. Every field has a default; a policy that was never
set is the defaults (alerts on, no webhook, no retraining).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlparse

from engine.workspace import Workspace

DDL = """CREATE TABLE IF NOT EXISTS model_watch (
    name TEXT PRIMARY KEY,
    policy_json TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)"""

_WINDOW = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
METRICS = ("auc", "ks", "logloss")


class PolicyError(ValueError):
    """A watch policy value that cannot work; the message says which and how to fix it."""


def window_seconds(text: str) -> int:
    """``"1h"`` → 3600; minutes (m), hours (h) or days (d), at least one minute."""
    m = _WINDOW.match(str(text))
    if not m or int(m.group(1)) == 0:
        raise PolicyError(
            f'Window "{text}" is not a duration: write a whole number and a unit, '
            'm (minutes), h (hours) or d (days), e.g. "1h" or "15m".'
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


@dataclass(frozen=True)
class AlertRules:
    """When a monitoring window raises an alert (defaults: the usual industry thresholds)."""

    psi: float = 0.25  # any input column's PSI above this
    score_psi: float = 0.25  # the score's PSI above this
    auc_drop: float = 0.05  # live AUC below validation AUC minus this ...
    min_labeled: int = 200  # ... once this many predictions have feedback
    error_rate: float = 0.01  # share of requests answered 4xx/5xx
    p99_ms: float = 250.0  # p99 latency bound
    webhook: str | None = None  # alerts are POSTed here as JSON (retried; never blocking)
    window: str = "1h"  # the monitoring window


@dataclass(frozen=True)
class RetrainPolicy:
    """When and how a model is retrained, and how the challenger is judged."""

    flow: str | None = None  # the flow file to run (absolute path); None: no retraining
    params: dict[str, Any] = field(default_factory=dict)  # flow params (K=V)
    schedule: str | None = None  # a cron expression (UTC)
    on_drift: bool = False  # retrain when a drift or accuracy alert is raised
    min_gain: float = 0.005  # the challenger must beat the champion by this much
    metric: str = "auc"  # auc | ks | logloss (logloss: lower is better)
    canary: float | None = None  # put a winning challenger on canary at this percent first


@dataclass(frozen=True)
class WatchPolicy:
    name: str
    alerts: AlertRules = AlertRules()
    retrain: RetrainPolicy = RetrainPolicy()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(doc: dict[str, Any]) -> WatchPolicy:
        return WatchPolicy(
            name=doc["name"],
            alerts=_known(AlertRules, doc.get("alerts") or {}),
            retrain=_known(RetrainPolicy, doc.get("retrain") or {}),
        )


def _known(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def validate(policy: WatchPolicy) -> WatchPolicy:
    """The policy, or a PolicyError naming the first value that cannot work."""
    a, r = policy.alerts, policy.retrain
    for label, value in (("--psi", a.psi), ("--score-psi", a.score_psi)):
        if not 0 < value < 10:
            raise PolicyError(f"{label} {value:g} is not a PSI threshold: use e.g. 0.1 or 0.25.")
    if not 0 < a.auc_drop < 1:
        raise PolicyError(f"--auc-drop {a.auc_drop:g} must be between 0 and 1 (e.g. 0.05).")
    if not 0 < a.error_rate <= 1:
        raise PolicyError(f"--error-rate {a.error_rate:g} must be a share in (0, 1] (e.g. 0.01).")
    if a.p99_ms <= 0:
        raise PolicyError(f"--p99-ms {a.p99_ms:g} must be a positive number of milliseconds.")
    if a.min_labeled < 1:
        raise PolicyError(f"--min-labeled {a.min_labeled} must be at least 1.")
    window_seconds(a.window)
    if a.webhook is not None:
        url = urlparse(a.webhook)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise PolicyError(
                f'--webhook "{a.webhook}" is not an http(s) URL (e.g. https://hooks.example/seer).'
            )
    if r.metric not in METRICS:
        raise PolicyError(f'--metric "{r.metric}" is not one of {", ".join(METRICS)}.')
    if not 0 <= r.min_gain < 1:
        raise PolicyError(f"--min-gain {r.min_gain:g} must be in [0, 1) (e.g. 0.005).")
    if r.canary is not None and not 0 < r.canary < 100:
        raise PolicyError(f"--canary {r.canary:g} must be a percentage between 0 and 100.")
    if r.schedule is not None:
        from croniter import croniter

        if not croniter.is_valid(r.schedule):
            raise PolicyError(
                f'--schedule "{r.schedule}" is not a cron expression: five fields, minute hour '
                'day month weekday, e.g. "0 3 * * *" for every day at 03:00 UTC.'
            )
    if (r.schedule or r.on_drift) and not r.flow:
        raise PolicyError(
            "--schedule and --on-drift retrain the model: name the flow to run with --retrain FLOW."
        )
    return policy


class WatchPolicies:
    """The workspace's watch policies."""

    def __init__(self, workspace: Workspace):
        self.store = workspace.store
        with self.store.transaction() as conn:
            conn.execute(DDL)

    def get(self, name: str) -> WatchPolicy:
        """The model's policy; the defaults when none was set."""
        rows = self.store.query("SELECT policy_json FROM model_watch WHERE name = ?", (name,))
        if not rows:
            return WatchPolicy(name)
        return WatchPolicy.from_json(json.loads(rows[0]["policy_json"]))

    def is_set(self, name: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM model_watch WHERE name = ?", (name,)))

    def all(self) -> list[WatchPolicy]:
        rows = self.store.query("SELECT policy_json FROM model_watch ORDER BY name")
        return [WatchPolicy.from_json(json.loads(r["policy_json"])) for r in rows]

    def update(
        self, name: str, alerts: dict[str, Any] | None = None, retrain: dict[str, Any] | None = None
    ) -> WatchPolicy:
        """Change the given fields of the model's policy (others keep their values); returns
        the validated policy saved."""
        old = self.get(name)
        new = validate(
            WatchPolicy(
                name,
                alerts=replace(old.alerts, **(alerts or {})),
                retrain=replace(old.retrain, **(retrain or {})),
            )
        )
        doc = json.dumps(new.to_json(), sort_keys=True)
        with self.store.transaction() as conn:
            conn.execute(
                self.store._sql(
                    "INSERT INTO model_watch (name, policy_json, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET policy_json = excluded.policy_json, "
                    "updated_at = excluded.updated_at"
                ),
                (name, doc, time.time()),
            )
        return new

    def remove(self, name: str) -> bool:
        with self.store.transaction() as conn:
            cur = conn.execute(self.store._sql("DELETE FROM model_watch WHERE name = ?"), (name,))
            return bool(getattr(cur, "rowcount", 0))
