"""The scheduler: `seer models check` for every watched model, periodically (`seer scheduler`,
and a background thread of `seer studio`).

Each round checks every model with a watch policy (engine/retrain.py): alerts are raised, a cron
slot that came due since the last run fires (a slot missed while no scheduler ran fires once on
the next round, and the retrain's trigger says so), a drift or accuracy alert triggers the
policy's retrain. Several schedulers may run on one workspace: the retrain lease and the record
of slots already run keep them from running the same retrain twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.model_registry import ModelRegistry
from engine.monitoring.policy import WatchPolicies
from engine.retrain import check
from engine.workspace import Workspace

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        ws: Workspace,
        interval: float = 60.0,
        on_check: Callable[[str, dict[str, Any]], None] | None = None,
        master: str | None = None,
    ):
        self.ws = ws
        self.master = master
        self.interval = interval
        self.on_check = on_check
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Check every watched model once; returns each model's check."""
        published = {r.name for r in ModelRegistry(self.ws).routes()}
        out: dict[str, dict[str, Any]] = {}
        for policy in WatchPolicies(self.ws).all():
            if self._stop.is_set():
                break
            if policy.name not in published:
                continue
            try:
                out[policy.name] = check(self.ws, policy.name, now=now, master=self.master)
            except Exception as exc:  # one model's trouble never stops the others
                log.exception("the check of %s failed", policy.name)
                out[policy.name] = {"error": f"{type(exc).__name__}: {exc}"}
            if self.on_check is not None:
                self.on_check(policy.name, out[policy.name])
        return out

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                log.exception("scheduler round failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        """Start the checks in a background thread (not again once stopped)."""
        if self._stop.is_set():
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="seer-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """End after the current check (a retrain in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
