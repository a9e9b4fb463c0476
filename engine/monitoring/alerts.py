"""Alerts: a model's watch rules (engine.monitoring.policy) checked over its monitoring windows.

A breach becomes one alert record in the workspace store (``model_alerts``), unique per
model, version, kind, measure and window — checking again, from any process, never repeats
it. Kinds: ``drift`` (an input column's PSI, measure ``psi:<column>``, or the score's,
``score_psi``), ``accuracy`` (live ``auc`` below the validation AUC minus the allowed drop),
``errors`` (``error_rate``) and ``latency`` (``p99_ms``). A shadow version's windows raise
no alerts (it answers no one).

A new alert is POSTed as JSON to the policy's webhook by one background thread: up to
``ATTEMPTS`` tries, ``TIMEOUT`` seconds each, waiting 0.5, 1, 2 ... seconds between them;
the outcome (``delivered`` / ``failed`` with the error, and the number of attempts) is
recorded on the alert. Nothing waits for a webhook. A delivery cut short because its process
ended (a command line that did not call ``wait_deliveries``) stays ``pending`` and is resumed
by the next check of the model, in one process only.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from engine.monitoring.baseline import baseline
from engine.monitoring.logs import iso_to_ts
from engine.monitoring.policy import AlertRules, WatchPolicies
from engine.monitoring.records import (
    insert,
    list_alerts,
    mark,
    record,
    stale_deliveries,
    tables,
)
from engine.monitoring.windows import monitoring
from engine.store import Store
from engine.workspace import Workspace

log = logging.getLogger(__name__)

LOOKBACK = 7 * 86400  # evaluate() checks the windows of the last 7 days
MIN_ROWS = 100  # a drift alert needs this many scored rows in the window
MIN_REQUESTS = 20  # an error-rate or latency alert needs this many requests in the window
ATTEMPTS = 4
TIMEOUT = 5.0
BACKOFF = 0.5
KINDS = ("drift", "accuracy", "errors", "latency")
__all__ = ["KINDS", "evaluate", "list_alerts", "wait_deliveries"]


def _breaches(win: dict[str, Any], rules: AlertRules, valid_auc: float | None) -> list[tuple]:
    """(kind, measure, value, threshold) of every rule the window breaks."""
    out: list[tuple] = []
    if win.get("rows", 0) >= MIN_ROWS:
        for col, d in win["features"].items():
            if d["psi"] > rules.psi:
                out.append(("drift", f"psi:{col}", d["psi"], rules.psi))
        if win["score_psi"] is not None and win["score_psi"] > rules.score_psi:
            out.append(("drift", "score_psi", win["score_psi"], rules.score_psi))
    live_auc = win.get("auc")
    if win["labeled"] >= rules.min_labeled and live_auc is not None and valid_auc is not None:
        bound = round(valid_auc - rules.auc_drop, 6)
        if live_auc < bound:
            out.append(("accuracy", "auc", live_auc, bound))
    if win["requests"] >= MIN_REQUESTS:
        rate = win["errors"] / win["requests"]
        if rate > rules.error_rate:
            out.append(("errors", "error_rate", round(rate, 6), rules.error_rate))
        p99 = win["latency_ms"]["p99"]
        if p99 is not None and p99 > rules.p99_ms:
            out.append(("latency", "p99_ms", p99, rules.p99_ms))
    return out


def evaluate(workspace: Workspace, name: str, now: float | None = None) -> list[dict]:
    """Compute the model's windows (of the last 7 days), raise an alert for each new breach
    of its watch rules, hand new alerts to the webhook (in the background) and return the NEW
    alert records."""
    now = time.time() if now is None else now
    rules = WatchPolicies(workspace).get(name).alerts
    result = monitoring(workspace, name, rules.window, since=now - LOOKBACK, now=now, detail=True)
    store = workspace.store
    tables(store)
    new = []
    for win in result["windows"]:
        if win["shadow"]:
            continue
        b = baseline(workspace, name, win["version"])
        win["_start"], win["_end"] = iso_to_ts(win["start"]), iso_to_ts(win["end"])
        for breach in _breaches(win, rules, b.valid_auc if b else None):
            row = insert(store, name, win, rules.window, breach, rules.webhook)
            if row is not None:
                new.append(row)
    if rules.webhook:
        for row in new:
            COURIER.send(store, row["id"], rules.webhook, _payload(record(row)))
    for row in stale_deliveries(store, name):  # cut short when their process ended
        COURIER.send(store, row["id"], row["webhook"], _payload(record(row)))
    return [record(r) for r in new]


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    text = (
        f"{record['model']} version {record['version']}: {record['kind']} alert, "
        f"{record['measure']} = {record['value']:.4g} (threshold {record['threshold']:.4g}) "
        f"in the window {record['window']['start']} – {record['window']['end']}"
    )
    out = {k: v for k, v in record.items() if k != "delivery"}
    return {**out, "text": text}


class Courier:
    """One background thread POSTing alerts to webhooks, with retries and backoff."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Store, str, str, dict]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, store: Store, alert_id: str, url: str, payload: dict) -> None:
        self.queue.put((store, alert_id, url, payload))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="seer-alert-webhook", daemon=True
                )
                self._thread.start()

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every queued alert is delivered or given up; False on timeout."""
        end = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def _run(self) -> None:
        while True:
            store, alert_id, url, payload = self.queue.get()
            try:
                self._deliver(store, alert_id, url, payload)
            except Exception:  # never let the thread die
                log.exception("alert delivery failed unexpectedly")
            finally:
                self.queue.task_done()

    def _deliver(self, store: Store, alert_id: str, url: str, payload: dict) -> None:
        body = json.dumps(payload).encode()
        error = None
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(
                url, body, {"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:  # noqa: S310
                    status = resp.status
                if 200 <= status < 300:
                    mark(store, alert_id, "delivered", attempt, None)
                    return
                error = f"HTTP {status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            mark(store, alert_id, "pending", attempt, error)
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
        log.warning("alert %s: webhook %s failed %d times: %s", alert_id, url, ATTEMPTS, error)
        mark(store, alert_id, "failed", ATTEMPTS, error)


COURIER = Courier()


def wait_deliveries(timeout: float = 30.0) -> bool:
    """Let the webhook deliveries under way finish (a command line calls this before exiting)."""
    return COURIER.wait(timeout)
