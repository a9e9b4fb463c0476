"""The check of a watched model (`seer models check`, the scheduler): raise alerts, run a due or
triggered retrain, compare the challenger with the champion, decide.

A retrain runs the policy's flow as `seer run` does (with the policy's params), with the newest
labeled window of the serving log held out (``import.serving_log`` leaves it out by itself,
engine/challenger.py says how it is chosen). The version the run published under the model's
name is the challenger; it is scored with the champion on that held-out window, and

- wins by ``min_gain`` or more on the policy's metric: promoted, or put on canary at the
  policy's ``canary`` percent when that is set;
- otherwise it stays in staging, with the reason recorded.

A flow that fails or publishes nothing leaves the champion in place; the failure is recorded
and raised as an alert record (kind ``retrain``). Every retrain, its comparison and decision are
kept in the store (``model_retrains``). One retrain of a model at a time in a workspace: a lease
in the store (``retrain_leases``) with a heartbeat, so two schedulers never run the same retrain
twice; a cron slot already run (``retrain_schedule``) is not run again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import audit
from engine.challenger import Comparisons, better, holdout_cut, iso, read_traffic, served_labeled
from engine.model_registry import ModelRegistry
from engine.monitoring import alerts, records
from engine.monitoring.policy import WatchPolicies, WatchPolicy, window_seconds
from engine.workspace import Workspace

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
#: a cron slot older than this when noticed was missed (no scheduler ran at the time)
MISSED_AFTER_SECONDS = 120.0
RETRAIN_KINDS = ("drift", "accuracy")

DDL = [
    """CREATE TABLE IF NOT EXISTS model_retrains (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION,
        run_id TEXT,
        status TEXT NOT NULL,
        version INTEGER,
        champion INTEGER,
        comparison_id TEXT,
        decision TEXT,
        reason TEXT,
        record_json TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS retrain_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS retrain_schedule (
        name TEXT PRIMARY KEY,
        last_slot DOUBLE PRECISION NOT NULL
    )""",
]


def raise_alerts(ws: Workspace, name: str, now: float | None = None) -> list[dict[str, Any]]:
    """The alerts the model's monitoring raises now (newly raised records, each with a
    ``kind``: drift, accuracy, errors, latency)."""
    return list(alerts.evaluate(ws, name, now=now))


def record_alert(ws: Workspace, alert: dict[str, Any], started: float) -> dict[str, Any]:
    """Keep an alert the loop raises itself (a failed retrain, kind ``retrain``) with the
    monitoring's alerts (``seer models alerts`` lists it, the webhook gets it); the retrain
    record holds it too."""
    try:
        webhook = WatchPolicies(ws).get(alert["model"]).alerts.webhook
        window = {"version": alert["version"], "_start": started, "_end": time.time()}
        breach = ("retrain", "retrain_failed", 1.0, 0.0)
        row = records.insert(ws.store, alert["model"], window, "retrain", breach, webhook)
        if row is None:
            return alert
        kept = records.record(row)
        if webhook:
            alerts.COURIER.send(ws.store, row["id"], webhook, {**kept, "text": alert["message"]})
        return {**kept, "message": alert["message"], "run_id": alert["run_id"]}
    except Exception:  # the alert still goes back in the check's answer and the record
        log.exception("could not record the retrain alert")
        return alert


def holder_id() -> str:
    """Who holds a lease: this host, process and thread, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:6]}"


class Retrains:
    """The store side: retrain records, leases, cron slots already run."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.store = ws.store
        with self.store.transaction() as conn:
            for ddl in DDL:
                conn.execute(ddl)

    # -- leases --------------------------------------------------------------------------------
    def take_lease(self, name: str, holder: str, now: float | None = None) -> bool:
        """Take the model's retrain lease unless another holder has it alive."""
        now = time.time() if now is None else now
        with self.store.transaction() as conn:
            conn.execute(
                self.store._sql(
                    "INSERT INTO retrain_leases (name, holder, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                    "expires_at = excluded.expires_at "
                    "WHERE retrain_leases.expires_at < ? OR retrain_leases.holder = excluded.holder"
                ),
                (name, holder, now + LEASE_SECONDS, now),
            )
        rows = self.store.query("SELECT holder FROM retrain_leases WHERE name = ?", (name,))
        return bool(rows) and rows[0]["holder"] == holder

    def renew_lease(self, name: str, holder: str) -> None:
        self.store.execute(
            "UPDATE retrain_leases SET expires_at = ? WHERE name = ? AND holder = ?",
            (time.time() + LEASE_SECONDS, name, holder),
        )

    def release_lease(self, name: str, holder: str) -> None:
        self.store.execute(
            "DELETE FROM retrain_leases WHERE name = ? AND holder = ?", (name, holder)
        )

    @contextmanager
    def lease(self, name: str) -> Iterator[bool]:
        """Hold the model's retrain lease (renewed every few seconds) while the block runs;
        yields False, holding nothing, when another process or thread holds it."""
        holder = holder_id()
        if not self.take_lease(name, holder):
            yield False
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                try:
                    self.renew_lease(name, holder)
                except Exception as exc:
                    log.warning("could not renew the retrain lease of %s: %s", name, exc)

        thread = threading.Thread(target=beat, name="seer-retrain-lease", daemon=True)
        thread.start()
        try:
            yield True
        finally:
            stop.set()
            thread.join(5)
            self.release_lease(name, holder)

    # -- cron slots ----------------------------------------------------------------------------
    def last_slot(self, name: str) -> float | None:
        rows = self.store.query("SELECT last_slot FROM retrain_schedule WHERE name = ?", (name,))
        return float(rows[0]["last_slot"]) if rows else None

    def mark_slot(self, name: str, slot: float) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                self.store._sql(
                    "INSERT INTO retrain_schedule (name, last_slot) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot"
                ),
                (name, slot),
            )

    # -- records -------------------------------------------------------------------------------
    def save(self, rec: dict[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.execute(self.store._sql("DELETE FROM model_retrains WHERE id = ?"), (rec["id"],))
            conn.execute(
                self.store._sql(
                    "INSERT INTO model_retrains (id, name, trigger, started_at, ended_at, run_id, "
                    "status, version, champion, comparison_id, decision, reason, record_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    rec["id"],
                    rec["name"],
                    rec["trigger"],
                    rec["started_at"],
                    rec.get("ended_at"),
                    rec.get("run_id"),
                    rec["status"],
                    rec.get("version"),
                    rec.get("champion"),
                    rec.get("comparison_id"),
                    rec.get("decision"),
                    rec.get("reason"),
                    json.dumps(rec, sort_keys=True, default=str),
                ),
            )

    def interrupted(self, name: str) -> None:
        """Mark retrains still "running" as interrupted: called with the model's lease held,
        so no retrain of it is running anywhere (its process died)."""
        for rec in self.history(name, limit=1000):
            if rec["status"] == "running":
                rec.update(status="interrupted", reason="the process running it ended first")
                self.save(rec)

    def history(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT record_json FROM model_retrains WHERE name = ? ORDER BY started_at DESC",
            (name,),
        )
        return [json.loads(r["record_json"]) for r in rows[:limit]]


def policy_set_at(ws: Workspace, name: str) -> float:
    rows = ws.store.query("SELECT updated_at FROM model_watch WHERE name = ?", (name,))
    return float(rows[0]["updated_at"]) if rows else time.time()


def due_slot(ws: Workspace, policy: WatchPolicy, now: float) -> tuple[float | None, str]:
    """The cron slot to run now (its time) and how to say so; (None, "") when none is due.
    Slots are counted from when the policy was set; several missed slots run once."""
    schedule = policy.retrain.schedule
    if not schedule:
        return None, ""
    from croniter import croniter

    slot = float(croniter(schedule, now).get_prev(float))
    done = Retrains(ws).last_slot(policy.name)
    since = max(done if done is not None else 0.0, policy_set_at(ws, policy.name))
    if slot <= since:
        return None, ""
    if now - slot > MISSED_AFTER_SECONDS:
        return slot, (
            f'schedule "{schedule}": the run due at {iso(slot)} was missed while no scheduler '
            "ran; running it once now"
        )
    return slot, f'schedule "{schedule}" (due at {iso(slot)})'


def _trigger(
    ws: Workspace, policy: WatchPolicy, alerts: list[dict[str, Any]], now: float, force: bool
) -> tuple[str | None, float | None]:
    """Why a retrain runs now (None: it does not), and the cron slot it settles."""
    r = policy.retrain
    if not r.flow:
        return None, None
    slot, said = due_slot(ws, policy, now)
    if force:
        return "request (seer models check --retrain-now)", slot
    if slot is not None:
        return said, slot
    raised = [a for a in alerts if a.get("kind") in RETRAIN_KINDS]
    if r.on_drift and raised and not _retrained_within(ws, policy, now):
        a = raised[0]
        what = a.get("measure") or a.get("column") or ""
        return f"{a['kind']} alert {what}".strip(), None
    return None, None


def _not_due(ws: Workspace, policy: WatchPolicy, alerts: list[dict[str, Any]], now: float) -> str:
    r = policy.retrain
    if not r.flow:
        return "no retraining policy (seer models watch NAME --retrain FLOW)"
    raised = any(a.get("kind") in RETRAIN_KINDS for a in alerts)
    if r.on_drift and raised:
        return (
            "drift or accuracy alerts raised, but a retrain already ran within the last "
            f"monitoring window ({policy.alerts.window})"
        )
    when = f'schedule "{r.schedule}" not due' if r.schedule else "no schedule"
    alerts_said = "no new drift or accuracy alert" if r.on_drift else "not retrained on drift"
    return f"no retrain due: {when}, {alerts_said}"


def _retrained_within(ws: Workspace, policy: WatchPolicy, now: float) -> bool:
    """Whether an alert-triggered retrain ran within the last monitoring window: drift that
    lasts raises alerts window after window, and one retrain per window is enough."""
    last = Retrains(ws).history(policy.name, limit=1)
    return bool(last) and now - float(last[0]["started_at"]) < window_seconds(policy.alerts.window)


def check(
    ws: Workspace,
    name: str,
    now: float | None = None,
    force: bool = False,
    master: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``name`` now: alerts, a due or triggered retrain, its comparison and decision.
    The answer is what `seer models check --json` prints. ``master``: the Spark master a
    retrain runs on (default: as `seer run`)."""
    now = time.time() if now is None else now
    registry = ModelRegistry(ws)
    route = registry.route(name)
    if route is None:
        raise ValueError(
            f'No model named "{name}" is published; `seer models list` shows the names.'
        )
    policy = WatchPolicies(ws).get(name)
    alerts = raise_alerts(ws, name, now)
    out: dict[str, Any] = {
        "alerts": alerts,
        "retrain": None,
        "comparison": None,
        "decision": None,
        "reason": "",
    }
    trigger, slot = _trigger(ws, policy, alerts, now, force)
    if trigger is None:
        out["reason"] = _not_due(ws, policy, alerts, now)
        return out
    retrains = Retrains(ws)
    with retrains.lease(name) as held:
        if not held:
            out["reason"] = f"a retrain of {name} is running elsewhere (it holds the lease)"
            return out
        retrains.interrupted(name)
        if slot is not None:
            again = retrains.last_slot(name)
            if again is not None and again >= slot:  # another scheduler ran it meanwhile
                out["reason"] = f"the slot due at {iso(slot)} was already run"
                return out
            retrains.mark_slot(name, slot)
        rec = retrain(ws, policy, trigger, master)
    out["alerts"] = alerts + rec.get("alerts", [])
    out["retrain"] = {
        "run_id": rec.get("run_id"),
        "status": rec["status"],
        "version": rec.get("version"),
    }
    out["comparison"] = rec.get("comparison")
    out["decision"] = rec.get("decision")
    out["reason"] = f"retrained on {trigger}: {rec.get('reason', '')}"
    return out


def _run_flow(ws: Workspace, policy: WatchPolicy, cut: float | None, master: str | None) -> Any:
    """Run the policy's flow as `seer run` does; returns the RunResult (FlowError when the
    flow is invalid)."""
    from engine.dataroots import DataRoots
    from engine.flow import load_flow, prepare_flow
    from engine.registry import load_registry
    from engine.runner import Runner, RunOptions

    path = Path(policy.retrain.flow or "")
    flow = load_flow(path)
    roots = DataRoots.for_flow(path.parent, ws.root)
    params = {k: str(v) for k, v in policy.retrain.params.items()}
    prepared = prepare_flow(flow, load_registry(), params, path.parent, roots)
    holdout = {} if cut is None else {policy.name: iso(cut) or ""}
    options = RunOptions(master=master, keep="needed", serving_log_holdout=holdout)
    return Runner(ws).run(prepared, options)


def retrain(
    ws: Workspace, policy: WatchPolicy, trigger: str, master: str | None = None
) -> dict[str, Any]:
    """Run the flow, compare, decide; the record (saved in the store) of what happened."""
    name = policy.name
    registry = ModelRegistry(ws)
    route = registry.route(name)
    champion = route.production if route else None
    labeled = served_labeled(read_traffic(ws, name))
    cut = holdout_cut(labeled)
    rec: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12],
        "name": name,
        "trigger": trigger,
        "started_at": time.time(),
        "status": "running",
        "champion": champion,
        "holdout_after": iso(cut),
        "alerts": [],
    }
    store = Retrains(ws)
    store.save(rec)
    try:
        result = _run_flow(ws, policy, cut, master)
    except Exception as exc:  # an invalid flow (FlowError), a missing file
        return _failed(ws, store, rec, "invalid", None, f"{exc}")
    rec["run_id"] = result.run_id
    if result.status != "succeeded":
        failed = [f'node "{n}": {r.error}' for n, r in result.nodes.items() if r.error]
        return _failed(ws, store, rec, result.status, result.run_id, "; ".join(failed[:3]))
    published = [
        v for v in registry.versions(name) if v["run_id"] == result.run_id and v["version"]
    ]
    if not published:
        rec.update(status="succeeded", ended_at=time.time(), decision=None)
        rec["reason"] = (
            f"run {result.run_id} published no new version of {name} (its publish node must "
            f"use the name {name}; a model identical to the last one is not published again); "
            f"version {champion} stays in production"
        )
        store.save(rec)
        return rec
    rec["version"] = int(published[-1]["version"])
    rec["status"] = "succeeded"
    decide(ws, policy, rec, champion, cut)
    rec["ended_at"] = time.time()
    store.save(rec)
    audit.record(
        ws.store,
        "scheduler",
        f"model.retrain.{rec['decision'] or 'none'}",
        model=name,
        version=rec["version"],
        run_id=result.run_id,
        detail=rec["reason"],
    )
    return rec


def _failed(
    ws: Workspace, store: Retrains, rec: dict[str, Any], status: str, run_id: Any, error: str
) -> dict[str, Any]:
    name, champion = rec["name"], rec["champion"]
    rec.update(status=status, run_id=run_id, ended_at=time.time(), decision=None, error=error)
    rec["reason"] = (
        f"the retrain {'run ' + run_id if run_id else 'flow'} {status}: {error}; "
        f"version {champion} stays in production"
    )
    alert = {
        "kind": "retrain",
        "model": name,
        "version": champion,
        "measure": "retrain",
        "value": status,
        "threshold": None,
        "window": None,
        "time": iso(time.time()),
        "run_id": run_id,
        "message": rec["reason"],
    }
    rec["alerts"] = [record_alert(ws, alert, rec["started_at"])]
    store.save(rec)
    audit.record(
        ws.store,
        "scheduler",
        "model.retrain",
        outcome="failed",
        model=name,
        run_id=run_id,
        detail=error[:500],
    )
    return rec


def decide(
    ws: Workspace,
    policy: WatchPolicy,
    rec: dict[str, Any],
    champion: int | None,
    cut: float | None,
) -> None:
    """Compare the challenger ``rec["version"]`` with the champion on the held-out window and
    promote, canary or keep it (fills in rec's comparison, decision and reason)."""
    name, challenger, r = policy.name, rec["version"], policy.retrain
    registry = ModelRegistry(ws)
    if champion is None or cut is None:
        rec["decision"] = "kept"
        rec["reason"] = (
            f"no labeled traffic to compare on: version {challenger} stays in staging "
            "(send feedback to the service, then check again)"
        )
        return
    comparisons = Comparisons(ws)
    result = comparisons.compare(name, champion, challenger, r.metric, since=cut, traffic=None)
    rec["comparison_id"] = comparisons.record(result, champion, challenger)
    rec["comparison"] = {**result, "id": rec["comparison_id"]}
    a = result["versions"][str(challenger)].get(r.metric)
    b = result["versions"][str(champion)].get(r.metric)
    if a is None or b is None:
        rec["decision"] = "kept"
        rec["reason"] = (
            f"the held-out window ({result['window']['rows']} labeled rows) cannot measure "
            f"{r.metric} (one class only or too few rows): version {challenger} stays in staging"
        )
        return
    gain = better(r.metric, a, b)
    said = (
        f"challenger v{challenger} {r.metric} {a:.4f} vs champion v{champion} {b:.4f} on "
        f"{result['window']['rows']} held-out labeled predictions (gain {gain:+.4f}, "
        f"min gain {r.min_gain:g})"
    )
    if gain < r.min_gain:
        rec["decision"] = "kept"
        rec["reason"] = f"{said}: version {challenger} stays in staging"
    elif r.canary:
        registry.canary(name, challenger, r.canary)
        rec["decision"] = "canary"
        rec["reason"] = f"{said}: version {challenger} takes {r.canary:g}% of traffic as a canary"
    else:
        registry.promote(name, challenger)
        rec["decision"] = "promoted"
        rec["reason"] = f"{said}: version {challenger} promoted to production"
