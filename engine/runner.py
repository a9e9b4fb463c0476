"""The DAG runner: executes a prepared flow on Spark, node by node, with a cache.

Nodes run in topological order (``graphlib``); independent branches run side by side in
a small thread pool. Each node's outputs are persisted under ``runs/<run_id>/<node>/``
(tables as Parquet, metrics as JSON, models and transforms as folders) and recorded in
the store under a cache key (op id + version + params + input keys + fingerprints), so a
rerun skips unchanged nodes. Progress leaves the runner as ``NodeEvent``s; the runner
does not know who listens (CLI, studio, tests).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import graphlib
import hashlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import leases
from engine.atomic import atomic_write_text, remove_path, replace_path, temp_owner, temp_sibling
from engine.context import Cancelled, RunContext
from engine.diskerrors import disk_full_message, is_disk_full, tightest
from engine.errors import OperatorError
from engine.flow import PreparedFlow, ResolvedNode, table_inputs
from engine.spark import get_spark, is_spark_error, requested_master, spark_error_message
from engine.spec import with_node
from engine.table_schema import TableSchema
from engine.workspace import Workspace

log = logging.getLogger(__name__)

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
_DONE_OK = {"succeeded", "cached"}


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


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _fingerprint_outputs(paths: Iterable[str]) -> list[Any]:
    out = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            st = path.stat()
            out.append([p, st.st_size, st.st_mtime_ns])
        elif path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file())
            out.append(
                [
                    p,
                    [
                        [str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns]
                        for f in files
                    ],
                ]
            )
        else:
            out.append([p, None])
    return out


def _link_name(links: list[tuple[str, str]], src: str, sport: str) -> str:
    """How an operator sees one link of an input: the upstream node id, or <node>_<port> when
    several links come from the same node."""
    return src if sum(1 for s, _ in links if s == src) == 1 else f"{src}_{sport}"


def _schema_of(output: Mapping[str, Any]) -> TableSchema | None:
    schema = output.get("schema")
    return TableSchema.from_json(schema) if schema is not None else None


def _parquet_dataset(path: Path) -> Any:
    """A table output's Parquet files (footers only are read: rows and schema, no data)."""
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive")


def _table_stats(path: Path) -> dict[str, Any]:
    """Column statistics of a stored table, the service a node's RunContext offers as
    ``input_statistics`` (engine.stats loads pyarrow and numpy: only when asked)."""
    from engine.stats import table_stats

    return table_stats(path)


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
                self._spark.sparkContext.cancelJobsWithTag(_job_tag(self.run_id))
            except Exception:  # the session may be stopping
                log.debug("cancelJobsWithTag failed", exc_info=True)

    def wait(self, timeout: float | None = None) -> RunResult:
        if not self._done.wait(timeout):
            raise TimeoutError(f"run {self.run_id} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def done(self) -> bool:
        return self._done.is_set()


def _job_tag(run_id: str) -> str:
    return f"seer-run-{run_id}"


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

    # -- internals ----------------------------------------------------------------------------
    def _emit(self, event: NodeEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a run listener failed")

    def _cache_keys(
        self, prepared: PreparedFlow, run_id: str, targets: set[str]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        return node_cache_keys(prepared, run_id, targets)

    def _cache_hit(self, node: ResolvedNode, key: str) -> dict[str, Any] | None:
        entry = self.ws.store.cache_get(key)
        if entry is None:
            return None
        for out in entry["outputs"].values():
            if out.get("path") and not Path(out["path"]).exists():
                return None
        ext = node.op.external_outputs(node.params)
        if ext and entry["external"] != _fingerprint_outputs(ext):
            return None
        return entry

    def _plan_cache(
        self,
        prepared: PreparedFlow,
        results: Mapping[str, NodeResult],
        keys: Mapping[str, str],
        forced: set[str],
        consumers: Mapping[str, set[str]],
        options: RunOptions,
    ) -> dict[str, dict[str, Any] | None]:
        """The cache entry each node reuses (None: it runs). An entry whose tables were handed on
        unsaved is reused only when none of its consumers runs (else the node runs again to
        recompute them) and only in a run that keeps just what is needed."""
        hits: dict[str, dict[str, Any] | None] = {}
        for nid in reversed([n for n in prepared.order if n in results]):
            entry = None if nid in forced else self._cache_hit(prepared.nodes[nid], keys[nid])
            transient = entry is not None and any(
                o.get("transient") for o in entry["outputs"].values()
            )
            if transient and (
                options.keep != "needed" or any(hits[c] is None for c in consumers[nid])
            ):
                entry = None
            hits[nid] = entry
        return hits

    @staticmethod
    def _passes_through(
        prepared: PreparedFlow,
        nid: str,
        results: Mapping[str, NodeResult],
        consumers: Mapping[str, set[str]],
        options: RunOptions,
    ) -> bool:
        """Whether a node's tables go to their consumers unsaved: a lean run, an operator that
        says its outputs are cheap to recompute, every output used in this run, and no consumer
        that reads stored files."""
        node = prepared.nodes[nid]
        if options.keep != "needed" or not node.op.passes_through(node.params):
            return False
        used = {
            sport
            for c in consumers[nid]
            for ups in prepared.nodes[c].inputs.values()
            for src, sport in ups
            if src == nid
        }
        return (
            all(p.name in used for p in node.op.outputs)
            and all(p.type == "table" for p in node.op.outputs)
            and not any(prepared.nodes[c].op.reads_input_files for c in consumers[nid])
        )

    def _execute(self, handle: RunHandle, prepared: PreparedFlow, options: RunOptions) -> None:
        # the lease tells other processes this run is alive; temporary names made by its nodes
        # carry its id, so a killed run's leftovers can be found (engine/leases.py)
        try:
            with leases.lease(self.ws.store, handle.run_id) as owner, temp_owner(owner):
                self._execute_leased(handle, prepared, options)
        except BaseException as exc:  # the store refused the lease (e.g. a full disk)
            handle._error = handle._error or exc
        finally:
            handle._done.set()

    def _execute_leased(
        self, handle: RunHandle, prepared: PreparedFlow, options: RunOptions
    ) -> None:
        store = self.ws.store
        run_id = handle.run_id
        try:
            targets = prepared.upstream(options.to_node) if options.to_node else set(prepared.order)
            forced = set(options.force)
            for nid in options.from_nodes:
                forced |= prepared.downstream(nid) & targets
            keys, _ = self._cache_keys(prepared, run_id, targets)
            results = {nid: NodeResult() for nid in prepared.order if nid in targets}
            consumers: dict[str, set[str]] = {nid: set() for nid in results}
            for nid in results:
                for ups in prepared.nodes[nid].inputs.values():
                    for src, _ in ups:
                        consumers[src].add(nid)
            hits = self._plan_cache(prepared, results, keys, forced, consumers, options)
            lean = {
                nid: self._passes_through(prepared, nid, results, consumers, options)
                for nid in results
            }
            for nid in results:
                op = prepared.nodes[nid].op.id
                store.set_node(run_id, nid, op=op, status="queued", cache_key=keys[nid])
                self._emit(NodeEvent("queued", run_id, nid, op))

            graph = {
                nid: {src for ups in prepared.nodes[nid].inputs.values() for src, _ in ups}
                for nid in results
            }
            sorter = graphlib.TopologicalSorter(graph)
            sorter.prepare()
            pending: dict[cf.Future[None], str] = {}
            with cf.ThreadPoolExecutor(
                max_workers=max(1, options.max_parallel), thread_name_prefix="seer-node"
            ) as pool:
                while sorter.is_active():
                    for nid in sorter.get_ready():
                        node = prepared.nodes[nid]
                        res = results[nid]
                        upstream = {src for ups in node.inputs.values() for src, _ in ups}
                        bad = [u for u in upstream if results[u].status not in _DONE_OK]
                        if handle.cancel_event.is_set():
                            self._finish_node(
                                run_id, node, res, "cancelled", error="The run was cancelled."
                            )
                            sorter.done(nid)
                            continue
                        if bad:
                            self._finish_node(
                                run_id,
                                node,
                                res,
                                "skipped",
                                error=f'Not run: upstream node "{sorted(bad)[0]}" did not succeed.',
                            )
                            sorter.done(nid)
                            continue
                        entry = hits[nid]
                        if entry is not None:
                            res.outputs = entry["outputs"]
                            res.rows = {
                                p: o["rows"]
                                for p, o in entry["outputs"].items()
                                if o.get("rows") is not None
                            }
                            res.metrics = entry["metrics"]
                            self._finish_node(run_id, node, res, "cached", seconds=0.0)
                            sorter.done(nid)
                            continue
                        fut = pool.submit(
                            contextvars.copy_context().run,  # the node thread keeps temp_owner
                            self._run_node,
                            handle,
                            prepared,
                            node,
                            keys[nid],
                            results,
                            options,
                            lean[nid],
                        )
                        pending[fut] = nid
                    if not pending:
                        continue
                    done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        nid = pending.pop(fut)
                        fut.result()  # _run_node records its own failures; this re-raises bugs
                        sorter.done(nid)
            statuses = {r.status for r in results.values()}
            if "failed" in statuses:
                status = "failed"
            elif "cancelled" in statuses or handle.cancel_event.is_set():
                status = "cancelled"
            else:
                status = "succeeded"
            failed = [nid for nid, r in results.items() if r.status == "failed"]
            store.finish_run(run_id, status, results[failed[0]].error if failed else None)
            handle._result = RunResult(run_id, status, results, handle.run_dir)
        except BaseException as exc:
            log.exception("run %s crashed", run_id)
            try:
                store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
            finally:
                handle._error = exc

    def _finish_node(
        self,
        run_id: str,
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
        self.ws.store.set_node(
            run_id,
            node.id,
            status=status,
            finished_at=time.time(),
            seconds=seconds,
            rows_json=res.rows,
            metrics_json=res.metrics,
            error=error,
            traceback=tb,
        )
        self._emit(
            NodeEvent(
                status, run_id, node.id, node.op.id, seconds=seconds, rows=res.rows, error=error
            )
        )

    def _run_node(
        self,
        handle: RunHandle,
        prepared: PreparedFlow,
        node: ResolvedNode,
        key: str,
        results: dict[str, NodeResult],
        options: RunOptions,
        pass_through: bool = False,
    ) -> None:
        store = self.ws.store
        run_id = handle.run_id
        res = results[node.id]
        started = time.time()
        res.status = "running"
        store.set_node(run_id, node.id, status="running", started_at=started)
        self._emit(NodeEvent("running", run_id, node.id, node.op.id))
        node_dir = handle.run_dir / node.id
        tagged: list[Any] = []

        def spark_factory() -> Any:
            spark = get_spark(options.master, self.ws.spark_local_dir, self.ws.logs_dir)
            handle._spark = spark
            if not tagged:
                spark.sparkContext.addJobTag(_job_tag(run_id))
                tagged.append(spark)
                leases.beat_now()  # Spark's JVM joins the run's lease
            if handle.cancel_event.is_set():
                raise Cancelled("cancelled")
            return spark

        def node_log(level: str, message: str) -> None:
            store.add_log(run_id, node.id, level, message)
            self._emit(NodeEvent("log", run_id, node.id, node.op.id, message=message, level=level))

        def resolve(ref: dict[str, Any]) -> Path:
            outputs = store.outputs_of(ref["run_id"], ref["node_id"]) or {}
            if ref.get("port") not in outputs:
                raise OperatorError(
                    f'The {ref.get("port")} output of node "{ref["node_id"]}" (run {ref["run_id"]}) is no '
                    "longer in the workspace; rerun that node."
                )
            return Path(outputs[ref["port"]]["path"])

        input_paths = {
            port: Path(results[ups[0][0]].outputs[ups[0][1]]["path"])
            for port, ups in node.inputs.items()
            if ups and "path" in results[ups[0][0]].outputs.get(ups[0][1], {})
        }
        input_lineage = {
            port: {
                _link_name(ups, src, sport): dict(
                    results[src].outputs.get(sport, {}).get("lineage") or {}
                )
                for src, sport in ups
            }
            for port, ups in node.inputs.items()
        }

        def publish(bundle: Path, name: str, description: str) -> int:
            from engine.model_registry import ModelRegistry

            return ModelRegistry(self.ws).publish(
                bundle,
                name,
                flow_name=prepared.flow.name,
                run_id=run_id,
                node_id=node.id,
                description=description,
            )

        def registered(name: str, version: int | None) -> tuple[int, Path]:
            from engine.model_registry import ModelRegistry, RegistryError

            registry = ModelRegistry(self.ws)
            try:
                if version is None:
                    route = registry.route(name)
                    if route is None or route.production is None:
                        registry.show(name)  # raises with the list of known models
                        raise RegistryError(f"{name} has no production version.")
                    version = route.production
                return version, registry.path(name, version)
            except RegistryError as exc:
                raise OperatorError(str(exc)) from None

        ctx = RunContext(
            run_id=run_id,
            node_id=node.id,
            op_id=node.op.id,
            node_dir=node_dir,
            flow_dir=prepared.flow.base_dir,
            spark_factory=spark_factory,
            log=node_log,
            cancel_event=handle.cancel_event,
            input_lineage=input_lineage,
            resolve=resolve,
            publish=publish,
            workspace_dir=self.ws.root,
            registered=registered,
            input_paths=input_paths,
            statistics=_table_stats,
            pass_through=pass_through,
            data_roots=prepared.roots,
        )
        written: list[Path] = []
        try:
            inputs = self._load_inputs(node, results, ctx)
            real = table_inputs(
                node,
                {n: {p: _schema_of(o) for p, o in r.outputs.items()} for n, r in results.items()},
            )
            problems = node.op.check_columns(real, node.params)
            if problems:
                raise OperatorError(with_node(problems[0][1], node.op.id, node.id))
            outputs = node.op.run(ctx, inputs, node.params)
            ctx.check_cancelled()
            persisted = self._persist(ctx, node, outputs or {}, node_dir, results, written)
            res.frames = {
                p: outputs[p] for p, o in persisted.items() if o.get("transient") and outputs
            }
            metrics = ctx.metrics
            if metrics is None:
                metrics = next(
                    (
                        {
                            k: v
                            for k, v in out.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)
                        }
                        for p, out in (outputs or {}).items()
                        if node.op.output_port(p)
                        and node.op.output_port(p).type == "metrics"
                        and isinstance(out, dict)
                    ),
                    None,
                )
            external = _fingerprint_outputs(node.op.external_outputs(node.params)) or None
            store.cache_put(key, run_id, node.id, persisted, external, metrics)
            res.outputs = persisted
            res.rows = {p: o["rows"] for p, o in persisted.items() if o.get("rows") is not None}
            res.metrics = metrics
            self._finish_node(run_id, node, res, "succeeded", seconds=time.time() - started)
        except BaseException as exc:
            for p in written:
                remove_path(p)
            seconds = time.time() - started
            if handle.cancel_event.is_set():
                self._finish_node(
                    run_id, node, res, "cancelled", seconds=seconds, error="The run was cancelled."
                )
            else:
                message = self._error_message(node, exc, node_dir)
                self._finish_node(
                    run_id,
                    node,
                    res,
                    "failed",
                    seconds=seconds,
                    error=message,
                    tb=traceback.format_exc(),
                )
            if not isinstance(exc, Exception):
                raise
        finally:
            ctx.cleanup()
            if tagged:
                try:
                    tagged[0].sparkContext.removeJobTag(_job_tag(run_id))
                except Exception:
                    log.debug("removeJobTag failed", exc_info=True)

    @staticmethod
    def _error_message(node: ResolvedNode, exc: BaseException, node_dir: Path) -> str:
        if is_disk_full(exc):  # the Java stack, if any, is in the store's traceback column
            places = [node_dir, *(Path(p).parent for p in node.op.external_outputs(node.params))]
            return disk_full_message(
                f'the output of node "{node.id}" ({node.op.id})', tightest(places) or node_dir
            )
        if isinstance(exc, OperatorError):
            return str(exc)
        if is_spark_error(exc):
            message = spark_error_message(exc)
            hint = node.op.error_hint(message, node.params)
            return f'{node.op.id} (node "{node.id}") failed in Spark: {message}' + (
                f" {hint}" if hint else ""
            )
        if isinstance(exc, MemoryError):
            return f"{node.op.id} ran out of memory on the driver. Sample the data or use a bigger machine."
        return f"Unexpected error in {node.op.id}: {type(exc).__name__}: {exc}"

    def _load_inputs(
        self, node: ResolvedNode, results: Mapping[str, NodeResult], ctx: RunContext
    ) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for port in node.op.inputs:
            values: dict[str, Any] = {}
            for src, sport in node.inputs[port.name]:
                out = results[src].outputs.get(sport)
                if out is None:
                    raise OperatorError(
                        f'Upstream node "{src}" produced no "{sport}" output (an optional output '
                        "appears only when the matching input is linked)."
                    )
                if out["type"] == "table" and out.get("transient"):
                    value = results[src].frames[sport]
                elif out["type"] == "table":
                    value = ctx.spark.read.parquet(out["path"])
                elif out["type"] in ("metrics", "report"):
                    value = json.loads(Path(out["path"]).read_text("utf-8"))
                else:
                    value = Path(out["path"])
                values[_link_name(node.inputs[port.name], src, sport)] = value
            if port.multiple:
                inputs[port.name] = values
            elif values:
                inputs[port.name] = next(iter(values.values()))
            else:
                inputs[port.name] = None
        return inputs

    def _persist(
        self,
        ctx: RunContext,
        node: ResolvedNode,
        outputs: Mapping[str, Any],
        node_dir: Path,
        results: Mapping[str, NodeResult],
        written: list[Path],
    ) -> dict[str, Any]:
        persisted: dict[str, Any] = {}
        unknown = set(outputs) - {p.name for p in node.op.outputs}
        if unknown:
            raise RuntimeError(
                f"{node.op.id} returned outputs it does not declare: {sorted(unknown)}"
            )
        inherited = self._inherited_lineage(node, results)
        for port in node.op.outputs:
            if port.name not in outputs or outputs[port.name] is None:
                if port.optional:  # e.g. a test output when no test input is linked
                    continue
                raise RuntimeError(f"{node.op.id} did not produce its output {port.name!r}")
            value = outputs[port.name]
            entry: dict[str, Any] = {"type": port.type}
            transient = ctx.pass_through and port.type == "table" and not isinstance(value, Path)
            if not transient:
                node_dir.mkdir(parents=True, exist_ok=True)
            if port.type == "table":
                final = node_dir / f"{port.name}.parquet"
                ctx.check_cancelled()
                if transient:
                    # handed to the consumers unsaved: schema and lineage only, no rows or path
                    entry["transient"] = True
                    entry["schema"] = TableSchema.from_spark(value.schema).to_json()
                    lineage = dict(inherited)
                    lineage.update(ctx.lineage.get(port.name, {}))
                    if lineage:
                        entry["lineage"] = lineage
                    persisted[port.name] = entry
                    continue
                if isinstance(value, Path):  # Parquet files the operator wrote itself
                    replace_path(value, final)
                    written.append(final)
                    dataset = _parquet_dataset(final)
                    schema = TableSchema.from_arrow(dataset.schema)
                    entry["rows"] = dataset.count_rows()
                else:
                    tmp = temp_sibling(final)
                    try:
                        value.write.mode("overwrite").parquet(str(tmp))
                        replace_path(tmp, final)
                    except BaseException:  # e.g. a full disk: the partial files go too
                        remove_path(tmp)
                        raise
                    written.append(final)
                    schema = TableSchema.from_spark(value.schema)
                    entry["rows"] = _parquet_dataset(final).count_rows()
                entry["schema"] = schema.to_json()
                lineage = dict(inherited)
                lineage.update(ctx.lineage.get(port.name, {}))
                if lineage:
                    entry["lineage"] = lineage
            elif port.type in ("metrics", "report"):
                final = node_dir / f"{port.name}.json"
                atomic_write_text(final, json.dumps(value, indent=1, default=float))
                written.append(final)
            else:
                src = Path(value)
                final = node_dir / port.name
                replace_path(src, final)
                written.append(final)
            entry["path"] = str(final)
            persisted[port.name] = entry
        return persisted

    @staticmethod
    def _inherited_lineage(node: ResolvedNode, results: Mapping[str, NodeResult]) -> dict[str, Any]:
        """A table output inherits the lineage of the node's first table input."""
        for port in node.op.inputs:
            if port.type != "table":
                continue
            for src, sport in node.inputs[port.name]:
                lineage = results[src].outputs.get(sport, {}).get("lineage")
                if lineage:
                    return dict(lineage)
        return {}


def node_cache_keys(
    prepared: PreparedFlow, run_id: str, targets: set[str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """The cache key of each node of ``targets`` (default: all) as a run ``run_id`` computes
    it (op, version, params, upstream keys, inputs' fingerprints), and the fingerprints."""
    keys: dict[str, str] = {}
    fingerprints: dict[str, Any] = {}
    for nid in prepared.order:
        if targets is not None and nid not in targets:
            continue
        node = prepared.nodes[nid]
        try:
            fp = node.op.fingerprint(node.params)
        except Exception as exc:  # the node itself will report the problem when it runs
            fp = {"error": str(exc)}
        fingerprints[nid] = fp
        material = {
            "op": node.op.id,
            "version": node.op.version,
            "params": node.params,
            "inputs": {
                port: [f"{keys[src]}/{sport}" for src, sport in ups]
                for port, ups in node.inputs.items()
            },
            "fingerprint": fp,
        }
        if not node.op.is_cacheable(node.params):
            material["run"] = run_id
        keys[nid] = hashlib.sha256(_canonical(material).encode()).hexdigest()
    return keys, fingerprints
