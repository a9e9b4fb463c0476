"""The request log: append-only JSON-lines files per model and day, written off the hot path.

Requests hand records to a bounded queue and never wait for the disk; one background thread
writes them. A write that fails (disk full, file too large, read-only filesystem, ...) does not
stop that thread: the records of that batch are counted as dropped, the service reports itself
``degraded`` (with the reason) in /healthz and /metrics, and the next batch tries again, so
logging resumes by itself as soon as writing works. A failed write never leaves half a line: the
file is cut back to where the batch started. A file moved away (log rotation) is noticed and a
new one started at the same path.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)
LOG_QUEUE = 10_000
_BATCH = 500
_STOP = ("", "", {})  # sentinel


class RequestLog:
    def __init__(self, folder: Path, queue_size: int = LOG_QUEUE):
        self.folder = folder
        self.queue: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue(queue_size)
        self.dropped_queue_full = 0
        self.dropped_write_error = 0
        self.write_errors = 0
        self.error: str | None = None  # why the log is degraded; None when writing works
        self._fds: dict[Path, int] = {}
        self._day = ""
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the request side ----------------------------------------------------------------------
    def put(self, model: str, kind: str, record: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((model, kind, record))
        except queue.Full:
            with self._lock:
                self.dropped_queue_full += 1

    @property
    def dropped(self) -> int:
        return self.dropped_queue_full + self.dropped_write_error

    def status(self) -> dict[str, Any]:
        return {
            "ok": self.error is None,
            "error": self.error,
            "dropped": self.dropped,
            "queued": self.queue.qsize(),
        }

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="seer-request-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread (a clean shutdown loses nothing)."""
        thread = self._thread
        if thread is None:
            return
        try:
            self.queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("the request log queue stayed full; some records were not written")
        thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written (or dropped)."""
        end = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)

    # -- the writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                batch = [self.queue.get()]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in batch)
                try:
                    self._write_batch([item for item in batch if item is not _STOP])
                except Exception as exc:  # never let the thread die
                    log.exception("request log: unexpected error")
                    self._failed(len(batch), f"unexpected error: {exc}")
                finally:
                    for _ in batch:
                        self.queue.task_done()
                if stop:
                    return
        finally:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def _write_batch(self, batch: list[tuple[str, str, dict[str, Any]]]) -> None:
        if not batch:
            return
        day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        if day != self._day:  # a new day starts new files: close the old ones
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            self._day = day
        by_path: dict[Path, list[bytes]] = {}
        for model, kind, record in batch:
            path = self.folder / model / f"{kind}-{day}.jsonl"
            by_path.setdefault(path, []).append(orjson.dumps(record) + b"\n")
        failures = []
        for path, lines in by_path.items():
            try:
                self._append(path, b"".join(lines))
            except OSError as exc:
                name = errno.errorcode.get(exc.errno or 0, "error")
                failures.append(f"cannot write {path}: {exc.strerror or exc} ({name})")
                self._failed(len(lines), failures[-1])
        if not failures and self.error is not None:
            log.warning("request log: writing works again; %s records were dropped", self.dropped)
            self.error = None

    def _failed(self, records: int, reason: str) -> None:
        with self._lock:
            self.write_errors += 1
            self.dropped_write_error += records
        if self.error is None:
            log.error("request log degraded: %s; records are dropped until writing works", reason)
        self.error = reason

    def _fd(self, path: Path) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except OSError:
                same = False
            if same:
                return fd
            os.close(fd)  # moved away (rotated) or deleted: start a new file
            del self._fds[path]
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._fds[path] = fd
        return fd

    def _append(self, path: Path, data: bytes) -> None:
        fd = self._fd(path)
        start = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError:
            # cut a partial batch back off, unless another process appended meanwhile
            try:
                if os.fstat(fd).st_size == start + written:
                    os.ftruncate(fd, start)
            except OSError:
                pass
            os.close(fd)
            self._fds.pop(path, None)
            raise
