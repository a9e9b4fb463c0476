"""Problems found by running: the nodes that failed in a flow's latest run, listed with the
problems validation finds (same format as `engine.flow.analyze_flow`'s), so the Problems list
never says "No problems" next to a node that failed.

Runs are flow-scoped: only runs recorded with this flow's id count. A failure stops being
listed once the node would no longer be computed as it was then: its params, its upstream or
the files it reads changed (its cache key differs), or it left the flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from engine.dataroots import DataRoots
from engine.flow import Flow, PreparedFlow, Problem, analyze_flow
from engine.run_cache import node_cache_keys
from engine.store import Store

log = logging.getLogger(__name__)


def failed_node_problems(
    prepared: PreparedFlow, run_id: str, node_runs: Iterable[Mapping[str, Any]]
) -> list[Problem]:
    """One problem per node that failed in run ``run_id`` of this flow (``node_runs``: that
    run's node records from the store), unless the node changed since."""
    failed = [r for r in node_runs if r.get("status") == "failed"]
    if not failed:
        return []
    try:
        keys, _ = node_cache_keys(prepared, run_id)
    except Exception:  # a flow the editor cannot resolve yet: its own problems say why
        log.debug("no cache keys for run %s", run_id, exc_info=True)
        keys = {}
    out = []
    for r in failed:
        nid = r["node_id"]
        if nid not in prepared.nodes or keys.get(nid) != r.get("cache_key"):
            continue
        error = (r.get("error") or "").strip() or "no message was recorded"
        out.append(Problem(f"Failed in run {run_id}: {error}", nid, "run-failed"))
    return out


def latest_run_problems(
    store: Store,
    flow: Flow,
    roots: DataRoots | None = None,
    prepared: PreparedFlow | None = None,
) -> list[Problem]:
    """`failed_node_problems` of the newest run of ``flow`` (by its id) in ``store``."""
    run_id = store.latest_flow_run(flow.id) if flow.id else None
    if not run_id:
        return []
    if prepared is None:
        prepared, _ = analyze_flow(flow, roots=roots)
    return failed_node_problems(prepared, run_id, store.node_runs(run_id))
