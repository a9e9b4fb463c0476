"""What a run is made of: its options, each node's result, the events it sends, its id."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# "interrupted": the process running it died (set when the workspace is next opened)
STATUSES = (
    "queued",
    "running",
    "succeeded",
    "cached",
    "failed",
    "cancelled",
    "skipped",
    "interrupted",
)
DONE_OK = frozenset({"succeeded", "cached"})


@dataclass
class NodeEvent:
    kind: str  # one of STATUSES, or "log"
    run_id: str
    node_id: str
    op: str
    seconds: float | None = None
    rows: dict[str, int] | None = None
    error: str | None = None
    message: str | None = None
    level: str = "info"
    ts: float = field(default_factory=time.time)


@dataclass
class NodeResult:
    status: str = "queued"
    seconds: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    # tables handed on unsaved ("transient" outputs), by port; lazy Spark plans
    frames: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "rows": self.rows,
            "metrics": self.metrics or {},
            "error": self.error,
        }


@dataclass
class RunResult:
    run_id: str
    status: str
    nodes: dict[str, NodeResult]
    run_dir: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "nodes": {k: v.to_json() for k, v in self.nodes.items()},
        }


@dataclass
class RunOptions:
    master: str | None = None
    force: set[str] = field(default_factory=set)  # rerun these nodes, ignoring the cache
    from_nodes: set[str] = field(default_factory=set)  # rerun these and everything downstream
    to_node: str | None = None  # run only what this node needs ("run to here")
    max_parallel: int = 2
    # "all": save every node's output tables (the studio: every output can be looked at);
    # "needed": hand the tables of pass-through nodes (a split) to their consumers unsaved
    keep: str = "all"
    # the serving-log cut of each model a retraining policy runs this flow for: predictions
    # logged at or after it (ISO 8601 time) are left out by import.serving_log (held out for
    # the fair comparison of champion and challenger)
    serving_log_holdout: dict[str, str] = field(default_factory=dict)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def job_tag(run_id: str) -> str:
    """The Spark job tag of a run's jobs (cancelling the run cancels them)."""
    return f"seer-run-{run_id}"
