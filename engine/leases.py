"""Run leases: which process runs a run, and what a run left behind when its process died.

A process running a run holds a lease in the store: its host, its process ids (Seer's own and
Spark's JVM, each with its start time so a reused pid is not mistaken for it) and a heartbeat
refreshed every ``HEARTBEAT_SECONDS`` by one background thread per process (the studio runs
many runs in threads of one process; they share the thread).

Whenever the workspace store is opened, ``recover`` looks at runs still marked running: a run
whose owner is gone (on this host: none of its processes is alive; on another host: no
heartbeat for ``STALE_AFTER_SECONDS``) is marked ``interrupted`` with its running and queued
nodes, and its temporary files are removed: the ones it registered (next to export targets
too, see ``engine.atomic.temp_owner``) and any temporary name under ``runs/<run id>/``. Node
outputs the cache points to are kept (a rerun reuses them); node folders it does not point to
are removed. A folder moved aside while being replaced (``.old``) is moved back when the
replacement never arrived, so the previous content is not lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from engine.atomic import TEMP_NAME, TempOwner, remove_path
from engine.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
#: a run on another host with no heartbeat for this long is taken as interrupted
STALE_AFTER_SECONDS = 60.0
INTERRUPTED = "The run was interrupted: the process running it ended without finishing it."


def host_name() -> str:
    return socket.gethostname()


def _processes() -> list[list[Any]]:
    """This process and Spark's JVM if it runs, as [pid, start time]. The JVM may write a
    little longer after its parent died; other children (the studio's scoring service) may
    outlive it and must not keep its runs alive."""
    me = psutil.Process()
    out = [[me.pid, me.create_time()]]
    try:
        for child in me.children():
            try:
                if child.name() == "java":
                    out.append([child.pid, child.create_time()])
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return out


def _alive(pid: int, started: float) -> bool:
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.Error:
        return False


class _Heartbeat:
    """One daemon thread per process refreshing the leases of the runs it holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Store] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, store: Store, run_id: str) -> None:
        store.take_lease(run_id, host_name(), os.getpid(), _processes())
        with self._lock:
            self._runs[run_id] = store
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="seer-heartbeat", daemon=True
                )
                self._thread.start()
            else:
                self._wake.set()  # the new run joins at once

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def beat_now(self) -> None:
        """Refresh at once (e.g. right after Spark started: its JVM joins the lease)."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(HEARTBEAT_SECONDS)
            self._wake.clear()
            with self._lock:
                if not self._runs:
                    self._thread = None
                    return
                by_store: dict[int, tuple[Store, list[str]]] = {}
                for run_id, store in self._runs.items():
                    by_store.setdefault(id(store), (store, []))[1].append(run_id)
            processes = _processes()
            for store, run_ids in by_store.values():
                try:
                    store.beat_leases(run_ids, processes)
                except Exception as exc:  # a full disk or a locked store: try again next beat
                    log.warning("could not refresh the run heartbeat: %s", exc)


_heartbeat = _Heartbeat()


@contextmanager
def lease(store: Store, run_id: str) -> Iterator[TempOwner]:
    """Hold the run's lease while the block runs; yields the owner of its temporary names."""
    _heartbeat.add(store, run_id)
    try:
        yield TempOwner(run_id, lambda p: store.add_run_temp(run_id, str(p)))
    finally:
        _heartbeat.remove(run_id)
        try:
            store.release_lease(run_id)
        except Exception as exc:
            # a full disk: the lease stays, and the run is taken as interrupted when the
            # workspace is next opened
            log.info("could not release the lease of run %s: %s", run_id, exc)


def beat_now() -> None:
    _heartbeat.beat_now()


def owner_gone(row: dict[str, Any], now: float | None = None) -> bool:
    """Whether the process that ran an unfinished run is gone (see the module doc)."""
    now = time.time() if now is None else now
    if row.get("host") is None:  # no lease: a Seer before leases, or the instant before one
        return now - float(row["started_at"]) > STALE_AFTER_SECONDS
    if row["host"] == host_name():
        return not any(_alive(int(pid), float(started)) for pid, started in row["processes"])
    return now - float(row["heartbeat_at"]) > STALE_AFTER_SECONDS


def process_tag() -> str:
    """This process, as a folder name: host, pid and start time."""
    me = psutil.Process()
    return f"{host_name()}-{me.pid}-{int(me.create_time())}"


def _remove_dead_scratch(scratch: Path) -> None:
    """Spark scratch folders (``process_tag`` names) of dead processes of this host."""
    if not scratch.is_dir():
        return
    prefix = f"{host_name()}-"
    for folder in scratch.iterdir():
        pid, _, started = folder.name.removeprefix(prefix).partition("-")
        if not folder.name.startswith(prefix) or not (pid.isdigit() and started.isdigit()):
            continue
        if not _alive(int(pid), float(started)):
            remove_path(folder)


def recover(store: Store, runs_dir: Path, scratch: Path | None = None) -> list[str]:
    """Mark the runs whose owner is gone interrupted and clean what they left; returns their ids.
    ``scratch``: the workspace's Spark scratch folder, cleaned of dead processes' folders."""
    if scratch is not None:
        try:
            _remove_dead_scratch(scratch)
        except OSError as exc:
            log.info("could not clean Spark's scratch folder %s: %s", scratch, exc)
    recovered = []
    for row in store.unfinished_runs():
        if not owner_gone(row):
            continue
        run_id = row["run_id"]
        # it ended at its last heartbeat, not when someone noticed
        if not store.mark_interrupted(run_id, INTERRUPTED, row.get("heartbeat_at")):
            continue
        recovered.append(run_id)
        try:
            clean_run(store, run_id, runs_dir)
        except Exception as exc:
            log.warning("could not clean up after interrupted run %s: %s", run_id, exc)
    return recovered


def clean_run(store: Store, run_id: str, runs_dir: Path) -> None:
    """Remove what an interrupted run left half-written (see the module doc)."""
    for text in store.run_temps(run_id):
        _undo_temp(Path(text), run_id)
    run_dir = runs_dir / run_id
    if run_dir.is_dir():
        kept = store.cached_nodes(run_id)
        for node_dir in run_dir.iterdir():
            # a node folder the cache does not point to holds nothing anyone can reach
            if node_dir.name not in kept or TEMP_NAME.match(node_dir.name):
                remove_path(node_dir)
        for dirpath, dirnames, filenames in os.walk(run_dir):
            for name in [n for n in [*dirnames, *filenames] if TEMP_NAME.match(n)]:
                remove_path(Path(dirpath) / name)
                if name in dirnames:
                    dirnames.remove(name)
        if not any(run_dir.iterdir()):
            run_dir.rmdir()
    store.release_lease(run_id)


def _undo_temp(path: Path, run_id: str) -> None:
    m = TEMP_NAME.match(path.name)
    if m is None or m["run"] != run_id:  # not a name this run made: never touch it
        return
    if not (path.exists() or path.is_symlink()):
        return
    original = path.parent / m["name"]
    if m["tag"] == "old" and not (original.exists() or original.is_symlink()):
        os.replace(path, original)  # the replacement never arrived: keep the previous content
    else:
        remove_path(path)
