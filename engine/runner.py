"""The DAG runner: schedules a prepared flow's nodes on Spark, with a cache.

Nodes run in topological order (``graphlib``); independent branches run side by side in a
small thread pool. The parts, each its own module:

- scheduling (this module): which nodes run, in what order, and the run's final status;
- one node's execution (``engine.node_task``): its context, the operator, its outcome;
- the cache (``engine.run_cache``): cache keys (op id + version + params + input keys +
  fingerprints), reuse, and tables handed on unsaved;
- persistence (``engine.run_outputs``): outputs under ``runs/<run_id>/<node>/`` (tables as
  Parquet, metrics as JSON, models and transforms as folders);
- events (``engine.run_events``): statuses recorded in the store and sent as ``NodeEvent``s;
  the runner does not know who listens (CLI, studio, tests).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import graphlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import leases
from engine.atomic import temp_owner
from engine.flow_model import PreparedFlow, ResolvedNode
from engine.node_task import NodeTask, RunScope
from engine.run_cache import node_cache_keys, passes_through, plan_cache
from engine.run_events import RunRecorder
from engine.run_types import (
    DONE_OK,
    STATUSES,
    NodeEvent,
    NodeResult,
    RunOptions,
    RunResult,
    job_tag,
    new_run_id,
)
from engine.spark import requested_master
from engine.workspace import Workspace

__all__ = [
    "STATUSES",
    "NodeEvent",
    "NodeResult",
    "RunHandle",
    "RunOptions",
    "RunResult",
    "Runner",
    "new_run_id",
    "node_cache_keys",
]

log = logging.getLogger(__name__)


class RunHandle:
    """A run in progress: wait for it, or cancel it."""

    def __init__(self, run_id: str, run_dir: Path):
        self.run_id = run_id
        self.run_dir = run_dir
        self.cancel_event = threading.Event()
        self._done = threading.Event()
        self._result: RunResult | None = None
        self._error: BaseException | None = None
        self._spark: Any = None

    def cancel(self) -> None:
        """Stop the run: running Spark jobs are cancelled, queued nodes never start."""
        self.cancel_event.set()
        if self._spark is not None:
            try:
                self._spark.sparkContext.cancelJobsWithTag(job_tag(self.run_id))
            except Exception:  # the session may be stopping
                log.debug("cancelJobsWithTag failed", exc_info=True)

    def attach_spark(self, spark: Any) -> None:
        """The session the run's jobs go to (so that ``cancel`` can reach them)."""
        self._spark = spark

    def complete(self, result: RunResult | None = None, error: BaseException | None = None) -> None:
        """Called once by the runner: the run's result, or the error that stopped it."""
        self._result = self._result or result
        self._error = self._error or error
        self._done.set()

    def wait(self, timeout: float | None = None) -> RunResult:
        if not self._done.wait(timeout):
            raise TimeoutError(f"run {self.run_id} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def done(self) -> bool:
        return self._done.is_set()


@dataclass
class RunPlan:
    """What a run will do: its nodes' results so far, cache keys, reused cache entries,
    which hand their tables on unsaved, and who consumes whom."""

    results: dict[str, NodeResult]
    keys: dict[str, str]
    hits: dict[str, dict[str, Any] | None]
    lean: dict[str, bool]
    consumers: dict[str, set[str]]


def plan_run(ws: Workspace, prepared: PreparedFlow, run_id: str, options: RunOptions) -> RunPlan:
    targets = prepared.upstream(options.to_node) if options.to_node else set(prepared.order)
    forced = set(options.force)
    for nid in options.from_nodes:
        forced |= prepared.downstream(nid) & targets
    keys, _ = node_cache_keys(prepared, run_id, targets)
    results = {nid: NodeResult() for nid in prepared.order if nid in targets}
    consumers: dict[str, set[str]] = {nid: set() for nid in results}
    for nid in results:
        for src in _upstream(prepared.nodes[nid]):
            consumers[src].add(nid)
    hits = plan_cache(ws.store, prepared, results, keys, forced, consumers, options)
    lean = {nid: passes_through(prepared, nid, consumers, options) for nid in results}
    return RunPlan(results, keys, hits, lean, consumers)


def _upstream(node: ResolvedNode) -> set[str]:
    return {src for ups in node.inputs.values() for src, _ in ups}


def final_status(results: dict[str, NodeResult], cancelled: bool) -> str:
    statuses = {r.status for r in results.values()}
    if "failed" in statuses:
        return "failed"
    if "cancelled" in statuses or cancelled:
        return "cancelled"
    return "succeeded"


class Runner:
    def __init__(
        self,
        workspace: Workspace,
        listeners: Iterable[Callable[[NodeEvent], None]] = (),
    ):
        self.ws = workspace
        self.listeners = list(listeners)

    # -- public API ---------------------------------------------------------------------------
    def run(self, prepared: PreparedFlow, options: RunOptions | None = None) -> RunResult:
        handle = self.start(prepared, options, background=False)
        return handle.wait()

    def start(
        self, prepared: PreparedFlow, options: RunOptions | None = None, background: bool = True
    ) -> RunHandle:
        options = options or RunOptions()
        for nid in [
            *options.force,
            *options.from_nodes,
            *([options.to_node] if options.to_node else []),
        ]:
            if nid not in prepared.nodes:
                raise KeyError(f'The flow has no node "{nid}".')
        run_id = new_run_id()
        handle = RunHandle(run_id, self.ws.run_dir(run_id))
        flow = prepared.flow
        self.ws.store.create_run(
            run_id,
            flow.name,
            str(flow.path) if flow.path else None,
            flow.to_json(),
            prepared.flow_params,
            requested_master(options.master),
            flow_id=flow.id,
        )
        if background:
            t = threading.Thread(
                target=self._execute,
                args=(handle, prepared, options),
                name=f"seer-run-{run_id}",
                daemon=True,
            )
            t.start()
        else:
            self._execute(handle, prepared, options)
        return handle

    # -- scheduling ---------------------------------------------------------------------------
    def _execute(self, handle: RunHandle, prepared: PreparedFlow, options: RunOptions) -> None:
        # the lease tells other processes this run is alive; temporary names made by its nodes
        # carry its id, so a killed run's leftovers can be found (engine/leases.py)
        try:
            with leases.lease(self.ws.store, handle.run_id) as owner, temp_owner(owner):
                result = self._execute_leased(handle, prepared, options)
        except BaseException as exc:  # the store refused the lease (e.g. a full disk)
            handle.complete(error=exc)
        else:
            handle.complete(result=result)

    def _execute_leased(
        self, handle: RunHandle, prepared: PreparedFlow, options: RunOptions
    ) -> RunResult:
        store, run_id = self.ws.store, handle.run_id
        try:
            plan = plan_run(self.ws, prepared, run_id, options)
            scope = RunScope(
                ws=self.ws,
                prepared=prepared,
                run_id=run_id,
                run_dir=handle.run_dir,
                master=options.master,
                recorder=RunRecorder(store, run_id, self.listeners),
                cancel_event=handle.cancel_event,
                on_spark=handle.attach_spark,
                serving_log_holdout=dict(options.serving_log_holdout),
            )
            for nid in plan.results:
                scope.recorder.queued(prepared.nodes[nid], plan.keys[nid])
            self._schedule(scope, plan, options)
            results = plan.results
            status = final_status(results, handle.cancel_event.is_set())
            failed = [nid for nid, r in results.items() if r.status == "failed"]
            store.finish_run(run_id, status, results[failed[0]].error if failed else None)
            return RunResult(run_id, status, results, handle.run_dir)
        except BaseException as exc:
            log.exception("run %s crashed", run_id)
            store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise

    def _schedule(self, scope: RunScope, plan: RunPlan, options: RunOptions) -> None:
        prepared = scope.prepared
        sorter = graphlib.TopologicalSorter(
            {nid: _upstream(prepared.nodes[nid]) for nid in plan.results}
        )
        sorter.prepare()
        pending: dict[cf.Future[None], str] = {}
        with cf.ThreadPoolExecutor(
            max_workers=max(1, options.max_parallel), thread_name_prefix="seer-node"
        ) as pool:
            while sorter.is_active():
                for nid in sorter.get_ready():
                    if self._settle(scope, plan, prepared.nodes[nid]):
                        sorter.done(nid)
                        continue
                    task = NodeTask(
                        scope, prepared.nodes[nid], plan.keys[nid], plan.results, plan.lean[nid]
                    )
                    # the node thread keeps the run's temp_owner
                    pending[pool.submit(contextvars.copy_context().run, task)] = nid
                if not pending:
                    continue
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    nid = pending.pop(fut)
                    fut.result()  # a NodeTask records its own failures; this re-raises bugs
                    sorter.done(nid)

    @staticmethod
    def _settle(scope: RunScope, plan: RunPlan, node: ResolvedNode) -> bool:
        """Finish a node without running it when the run is cancelled, an upstream node did
        not succeed, or the cache has it; False when it must run."""
        res = plan.results[node.id]
        bad = [u for u in _upstream(node) if plan.results[u].status not in DONE_OK]
        if scope.cancel_event.is_set():
            scope.recorder.finish(node, res, "cancelled", error="The run was cancelled.")
            return True
        if bad:
            scope.recorder.finish(
                node,
                res,
                "skipped",
                error=f'Not run: upstream node "{sorted(bad)[0]}" did not succeed.',
            )
            return True
        entry = plan.hits[node.id]
        if entry is None:
            return False
        res.outputs = entry["outputs"]
        res.rows = {p: o["rows"] for p, o in entry["outputs"].items() if o.get("rows") is not None}
        res.metrics = entry["metrics"]
        scope.recorder.finish(node, res, "cached", seconds=0.0)
        return True
