"""A node's inputs and outputs in a run: reading upstream outputs for it, and persisting what
it returns under ``runs/<run_id>/<node>/`` (tables as Parquet, metrics as JSON, models and
transforms as folders), with schema, row count and lineage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_text, remove_path, replace_path, temp_sibling
from engine.context import RunContext
from engine.errors import OperatorError
from engine.flow_checks import link_name
from engine.flow_model import ResolvedNode
from engine.run_types import NodeResult
from engine.spec import Port
from engine.table_schema import TableSchema

Results = Mapping[str, NodeResult]


def schema_of(output: Mapping[str, Any]) -> TableSchema | None:
    schema = output.get("schema")
    return TableSchema.from_json(schema) if schema is not None else None


def output_schemas(results: Results) -> dict[str, dict[str, TableSchema | None]]:
    """Every finished node's output schemas, by node and port."""
    return {n: {p: schema_of(o) for p, o in r.outputs.items()} for n, r in results.items()}


def input_paths(node: ResolvedNode, results: Results) -> dict[str, Path]:
    """The stored file of each input port's first link (for column statistics)."""
    return {
        port: Path(results[ups[0][0]].outputs[ups[0][1]]["path"])
        for port, ups in node.inputs.items()
        if ups and "path" in results[ups[0][0]].outputs.get(ups[0][1], {})
    }


def input_lineage(node: ResolvedNode, results: Results) -> dict[str, dict[str, dict[str, Any]]]:
    """What produced each linked input table, by port and link name."""
    return {
        port: {
            link_name(ups, src, sport): dict(
                results[src].outputs.get(sport, {}).get("lineage") or {}
            )
            for src, sport in ups
        }
        for port, ups in node.inputs.items()
    }


def inherited_lineage(node: ResolvedNode, results: Results) -> dict[str, Any]:
    """A table output inherits the lineage of the node's first table input."""
    for port in node.op.inputs:
        if port.type != "table":
            continue
        for src, sport in node.inputs[port.name]:
            lineage = results[src].outputs.get(sport, {}).get("lineage")
            if lineage:
                return dict(lineage)
    return {}


def load_inputs(node: ResolvedNode, results: Results, ctx: RunContext) -> dict[str, Any]:
    """The values an operator's ``run`` receives: DataFrames, JSON documents or folders."""
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
            values[link_name(node.inputs[port.name], src, sport)] = _read(
                out, results[src], sport, ctx
            )
        if port.multiple:
            inputs[port.name] = values
        else:
            inputs[port.name] = next(iter(values.values()), None)
    return inputs


def _read(out: Mapping[str, Any], upstream: NodeResult, port: str, ctx: RunContext) -> Any:
    if out["type"] == "table" and out.get("transient"):
        return upstream.frames[port]
    if out["type"] == "table":
        return ctx.spark.read.parquet(out["path"])
    if out["type"] in ("metrics", "report"):
        return json.loads(Path(out["path"]).read_text("utf-8"))
    return Path(out["path"])


def metrics_of(node: ResolvedNode, outputs: Mapping[str, Any], ctx: RunContext) -> Any:
    """The node's scalar metrics: what it set, else the numbers of its metrics output."""
    if ctx.metrics is not None:
        return ctx.metrics
    for port, out in outputs.items():
        spec = node.op.output_port(port)
        if spec and spec.type == "metrics" and isinstance(out, dict):
            return {
                k: v
                for k, v in out.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
    return None


def _parquet_dataset(path: Path) -> Any:
    """A table output's Parquet files (footers only are read: rows and schema, no data)."""
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive")


class OutputWriter:
    """Persists one node's outputs; remembers what it wrote so a failure can remove it."""

    def __init__(self, ctx: RunContext, node: ResolvedNode, node_dir: Path, results: Results):
        self.ctx = ctx
        self.node = node
        self.node_dir = node_dir
        self.inherited = inherited_lineage(node, results)
        self.written: list[Path] = []

    def discard(self) -> None:
        for p in self.written:
            remove_path(p)

    def persist(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        op = self.node.op
        unknown = set(outputs) - {p.name for p in op.outputs}
        if unknown:
            raise RuntimeError(f"{op.id} returned outputs it does not declare: {sorted(unknown)}")
        persisted: dict[str, Any] = {}
        for port in op.outputs:
            if port.name not in outputs or outputs[port.name] is None:
                if port.optional:  # e.g. a test output when no test input is linked
                    continue
                raise RuntimeError(f"{op.id} did not produce its output {port.name!r}")
            persisted[port.name] = self._one(port, outputs[port.name])
        return persisted

    def _one(self, port: Port, value: Any) -> dict[str, Any]:
        if port.type == "table":
            return self._table(port.name, value)
        self.node_dir.mkdir(parents=True, exist_ok=True)
        if port.type in ("metrics", "report"):
            final = self.node_dir / f"{port.name}.json"
            atomic_write_text(final, json.dumps(value, indent=1, default=float))
        else:
            final = self.node_dir / port.name
            replace_path(Path(value), final)
        self.written.append(final)
        return {"type": port.type, "path": str(final)}

    def _lineage(self, port: str) -> dict[str, Any]:
        lineage = dict(self.inherited)
        lineage.update(self.ctx.lineage.get(port, {}))
        return lineage

    def _table(self, port: str, value: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "table"}
        self.ctx.check_cancelled()
        if self.ctx.pass_through and not isinstance(value, Path):
            # handed to the consumers unsaved: schema and lineage only, no rows or path
            entry["transient"] = True
            entry["schema"] = TableSchema.from_spark(value.schema).to_json()
        else:
            self.node_dir.mkdir(parents=True, exist_ok=True)
            final = self.node_dir / f"{port}.parquet"
            schema = self._write_table(value, final)
            entry["rows"] = _parquet_dataset(final).count_rows()
            entry["schema"] = schema.to_json()
            entry["path"] = str(final)
        lineage = self._lineage(port)
        if lineage:
            entry["lineage"] = lineage
        return entry

    def _write_table(self, value: Any, final: Path) -> TableSchema:
        if isinstance(value, Path):  # Parquet files the operator wrote itself
            replace_path(value, final)
            self.written.append(final)
            return TableSchema.from_arrow(_parquet_dataset(final).schema)
        tmp = temp_sibling(final)
        try:
            value.write.mode("overwrite").parquet(str(tmp))
            replace_path(tmp, final)
        except BaseException:  # e.g. a full disk: the partial files go too
            remove_path(tmp)
            raise
        self.written.append(final)
        return TableSchema.from_spark(value.schema)
