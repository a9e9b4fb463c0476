"""A run's record keeping: every node status goes to the store and, as a ``NodeEvent``, to
whoever listens (the CLI's progress lines, the studio, tests). The runner does not know who."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from engine.flow_model import ResolvedNode
from engine.run_types import NodeEvent, NodeResult
from engine.store import Store

log = logging.getLogger(__name__)

Listener = Callable[[NodeEvent], None]


class RunRecorder:
    """Records one run's node statuses and logs in the store and tells the listeners."""

    def __init__(self, store: Store, run_id: str, listeners: Iterable[Listener] = ()):
        self.store = store
        self.run_id = run_id
        self.listeners = list(listeners)

    def emit(self, event: NodeEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed")

    def queued(self, node: ResolvedNode, cache_key: str) -> None:
        self.store.set_node(
            self.run_id, node.id, op=node.op.id, status="queued", cache_key=cache_key
        )
        self.emit(NodeEvent("queued", self.run_id, node.id, node.op.id))

    def running(self, node: ResolvedNode, res: NodeResult) -> float:
        """Mark the node running; returns its start time."""
        started = time.time()
        res.status = "running"
        self.store.set_node(self.run_id, node.id, status="running", started_at=started)
        self.emit(NodeEvent("running", self.run_id, node.id, node.op.id))
        return started

    def log(self, node: ResolvedNode, level: str, message: str) -> None:
        self.store.add_log(self.run_id, node.id, level, message)
        self.emit(NodeEvent("log", self.run_id, node.id, node.op.id, message=message, level=level))

    def finish(
        self,
        node: ResolvedNode,
        res: NodeResult,
        status: str,
        *,
        seconds: float | None = None,
        error: str | None = None,
        tb: str | None = None,
    ) -> None:
        res.status = status
        res.seconds = seconds
        res.error = error
        res.traceback = tb
        self.store.set_node(
            self.run_id,
            node.id,
            status=status,
            finished_at=time.time(),
            seconds=seconds,
            rows_json=res.rows,
            metrics_json=res.metrics,
            error=error,
            traceback=tb,
        )
        self.emit(
            NodeEvent(
                status,
                self.run_id,
                node.id,
                node.op.id,
                seconds=seconds,
                rows=res.rows,
                error=error,
            )
        )
