"""One node's execution in a run: its context, inputs, the operator's ``run``, persistence,
the cache entry and its final status; failures become one sentence naming the node."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import leases
from engine.context import Cancelled, NodeInputs, NodePlace, RunContext
from engine.diskerrors import disk_full_message, is_disk_full, tightest
from engine.errors import OperatorError, node_phrase
from engine.flow_checks import table_inputs
from engine.flow_model import PreparedFlow, ResolvedNode
from engine.run_cache import fingerprint_outputs
from engine.run_events import RunRecorder
from engine.run_outputs import (
    OutputWriter,
    input_lineage,
    input_paths,
    load_inputs,
    metrics_of,
    output_schemas,
)
from engine.run_types import NodeResult, job_tag
from engine.spark import get_spark, is_spark_error, spark_error_message
from engine.spec import with_node
from engine.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RunScope:
    """What every node of one run shares: the workspace, the flow, the run's id and folder,
    the Spark master, its records, its cancel signal and where to report its Spark session."""

    ws: Workspace
    prepared: PreparedFlow
    run_id: str
    run_dir: Path
    master: str | None
    recorder: RunRecorder
    cancel_event: threading.Event
    on_spark: Callable[[Any], None]
    serving_log_holdout: dict[str, str] = field(default_factory=dict)


def table_stats(path: Path) -> dict[str, Any]:
    """Column statistics of a stored table (engine.stats loads pyarrow and numpy: only when
    asked)."""
    from engine.stats import table_stats as stats

    return stats(path)


class NodeServices:
    """The run's services as one node sees them (engine.context.RunServices)."""

    def __init__(self, scope: RunScope, node: ResolvedNode):
        self.scope = scope
        self.node = node
        self.tagged: Any = None  # the session once this node's jobs carry the run's tag

    def spark(self) -> Any:
        scope = self.scope
        spark = get_spark(scope.master, scope.ws.spark_local_dir, scope.ws.logs_dir)
        scope.on_spark(spark)
        if self.tagged is None:
            spark.sparkContext.addJobTag(job_tag(scope.run_id))
            self.tagged = spark
            leases.beat_now()  # Spark's JVM joins the run's lease
        if self.cancelled():
            raise Cancelled("cancelled")
        return spark

    def untag(self) -> None:
        if self.tagged is not None:
            try:
                self.tagged.sparkContext.removeJobTag(job_tag(self.scope.run_id))
            except Exception:
                log.debug("removeJobTag failed", exc_info=True)

    def log(self, level: str, message: str) -> None:
        self.scope.recorder.log(self.node, level, message)

    def cancelled(self) -> bool:
        return self.scope.cancel_event.is_set()

    def resolve(self, ref: dict[str, Any]) -> Path:
        outputs = self.scope.ws.store.outputs_of(ref["run_id"], ref["node_id"]) or {}
        if ref.get("port") not in outputs:
            raise OperatorError(
                f'The {ref.get("port")} output of node "{ref["node_id"]}" (run {ref["run_id"]}) '
                "is no longer in the workspace; rerun that node."
            )
        return Path(outputs[ref["port"]]["path"])

    def publish(self, bundle: Path, name: str, description: str) -> int:
        from engine.model_registry import ModelRegistry

        scope = self.scope
        return ModelRegistry(scope.ws).publish(
            bundle,
            name,
            flow_name=scope.prepared.flow.name,
            run_id=scope.run_id,
            node_id=self.node.id,
            description=description,
        )

    def holdout(self, model: str) -> str | None:
        return self.scope.serving_log_holdout.get(model)

    def registered(self, name: str, version: int | None) -> tuple[int, Path]:
        from engine.model_registry import ModelRegistry, RegistryError

        registry = ModelRegistry(self.scope.ws)
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

    def statistics(self, path: Path) -> dict[str, Any]:
        return table_stats(path)


def error_message(node: ResolvedNode, exc: BaseException, node_dir: Path) -> str:
    """The sentence a failed node shows: what went wrong, in the node's words."""
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
        return f"{node_phrase(node.op.id, node.id)} failed in Spark: {message}" + (
            f" {hint}" if hint else ""
        )
    if isinstance(exc, MemoryError):
        return f"{node.op.id} ran out of memory on the driver. Sample the data or use a bigger machine."
    return f"Unexpected error in {node.op.id}: {type(exc).__name__}: {exc}"


class NodeTask:
    """Runs one node of a run; records its outcome (never raises for the node's own failure)."""

    def __init__(
        self,
        scope: RunScope,
        node: ResolvedNode,
        key: str,
        results: Mapping[str, NodeResult],
        pass_through: bool = False,
    ):
        self.scope = scope
        self.node = node
        self.key = key
        self.results = results
        self.res = results[node.id]
        self.node_dir = scope.run_dir / node.id
        self.services = NodeServices(scope, node)
        self.ctx = RunContext(
            NodePlace(
                run_id=scope.run_id,
                node_id=node.id,
                op_id=node.op.id,
                node_dir=self.node_dir,
                flow_dir=scope.prepared.flow.base_dir,
                workspace_dir=scope.ws.root,
                data_roots=scope.prepared.roots,
            ),
            self.services,
            NodeInputs(
                lineage=input_lineage(node, results),
                paths=input_paths(node, results),
                pass_through=pass_through,
            ),
        )

    def __call__(self) -> None:
        started = self.scope.recorder.running(self.node, self.res)
        writer = OutputWriter(self.ctx, self.node, self.node_dir, self.results)
        try:
            self._run(writer)
            self._finish("succeeded", time.time() - started)
        except BaseException as exc:
            writer.discard()
            self._failed(exc, time.time() - started)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.ctx.cleanup()
            self.services.untag()

    def _run(self, writer: OutputWriter) -> None:
        node, ctx, res = self.node, self.ctx, self.res
        inputs = load_inputs(node, self.results, ctx)
        problems = node.op.check_columns(
            table_inputs(node, output_schemas(self.results)), node.params
        )
        if problems:
            raise OperatorError(with_node(problems[0][1], node.op.id, node.id))
        outputs = node.op.run(ctx, inputs, node.params) or {}
        ctx.check_cancelled()
        persisted = writer.persist(outputs)
        res.frames = {p: outputs[p] for p, o in persisted.items() if o.get("transient")}
        metrics = metrics_of(node, outputs, ctx)
        external = fingerprint_outputs(node.op.external_outputs(node.params)) or None
        self.scope.ws.store.cache_put(
            self.key, self.scope.run_id, node.id, persisted, external, metrics
        )
        res.outputs = persisted
        res.rows = {p: o["rows"] for p, o in persisted.items() if o.get("rows") is not None}
        res.metrics = metrics

    def _finish(self, status: str, seconds: float, **more: Any) -> None:
        self.scope.recorder.finish(self.node, self.res, status, seconds=seconds, **more)

    def _failed(self, exc: BaseException, seconds: float) -> None:
        if self.scope.cancel_event.is_set():
            self._finish("cancelled", seconds, error="The run was cancelled.")
            return
        self._finish(
            "failed",
            seconds,
            error=error_message(self.node, exc, self.node_dir),
            tb=traceback.format_exc(),
        )
