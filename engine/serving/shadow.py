"""Shadow traffic: every routed request mirrored to another version, off the hot path.

A request hands its rows to a bounded queue and goes on (a full queue drops the mirror, never
the request); one background thread at a lower CPU priority scores them with the shadow
version and logs the scores to the same predictions log, with the shadow's version,
``"shadow": true`` and the request's id (so feedback on the request labels the shadow's scores
too). Nothing the shadow does reaches the answer.

A mirror doubles the scoring work, and in one Python process it competes with the requests for
the interpreter: the thread scores only once no request has come for ``QUIET`` seconds, rests
after each batch for ``REST`` times as long as the batch took (so it uses at most a fifth of the
time), and under sustained load the queue fills and the excess mirrors are dropped (counted) —
the shadow is then measured on a sample of the traffic, never at the requests' expense.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from typing import Any

from engine.serving.request_log import RequestLog
from engine.serving.scoring import LoadedModel

log = logging.getLogger(__name__)
QUEUE_SIZE = 1_000
REST = 4.0  # rest this many times a batch's scoring time: at most 1/(1 + REST) of the time
QUIET = 0.002  # score only when no request came for this long
MAX_WAIT = 1.0  # ... or once a mirror has waited this long
_STOP: tuple[Any, ...] = ()


class ShadowMirror:
    def __init__(self, request_log: RequestLog, queue_size: int = QUEUE_SIZE):
        self.request_log = request_log
        self.queue: queue.Queue[tuple[Any, ...]] = queue.Queue(queue_size)
        self.dropped = 0
        self.failed = 0
        self._thread: threading.Thread | None = None
        self._last_put = 0.0

    def put(self, model: LoadedModel, name: str, request_id: str, instances: list[Any]) -> None:
        self._last_put = time.monotonic()
        try:
            self.queue.put_nowait((model, name, request_id, instances, time.time()))
        except queue.Full:
            self.dropped += 1

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="seer-shadow", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self.queue.put(_STOP, timeout=timeout)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: this thread's nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            waited = time.monotonic()
            while (
                time.monotonic() - self._last_put < QUIET and time.monotonic() - waited < MAX_WAIT
            ):
                time.sleep(QUIET)
            started = time.perf_counter()
            try:
                self._score(*item)
            except Exception:  # rows the shadow cannot take, a broken bundle: counted, logged
                self.failed += 1
                log.debug("shadow scoring failed", exc_info=True)
            time.sleep(REST * (time.perf_counter() - started))

    def _score(
        self, model: LoadedModel, name: str, request_id: str, instances: list[Any], ts: float
    ) -> None:
        model.validate(instances)
        scores = model.scores(instances)
        threshold = model.threshold
        record = {
            "ts": ts,
            "request_id": request_id,
            "model": name,
            "version": model.version,
            "shadow": True,
            "instances": [model.inputs_of(r) for r in instances],
            "predictions": [{"score": s, "prediction": int(s >= threshold)} for s in scores],
        }
        self.request_log.put(name, "predictions", record)
