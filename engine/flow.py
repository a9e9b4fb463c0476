"""Flows: from a parsed flow file to a flow ready to run, with every problem collected.

``prepare_flow`` turns a parsed flow into nodes with fully resolved params (defaults applied,
old operator versions migrated, flow parameters substituted, relative paths made absolute) in
topological order, or raises ``FlowError`` with every problem found; ``analyze_flow`` returns
the problems and warnings instead (the studio's Problems list). The pieces live beside it:
engine/flow_model.py (the types), engine/flow_file.py (the JSON format: parse, load, save),
engine/flow_params.py (one node's params) and engine/flow_checks.py (paths, input files,
columns, leakage). Loading never executes anything from the file.
"""

from __future__ import annotations

import graphlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.dataroots import DataRoots
from engine.flow_checks import (
    infer_schemas,
    leakage_warnings,
    link_name,
    missing_input_problems,
    path_problems,
    table_inputs,
)
from engine.flow_file import (
    FLOW_SUFFIX,
    MAX_FLOW_BYTES,
    flow_schema,
    load_flow,
    parse_flow,
    save_flow,
)
from engine.flow_model import Flow, FlowError, Link, Node, PreparedFlow, Problem, ResolvedNode
from engine.flow_params import (
    Substituter,
    coerce_override,
    did_you_mean,
    resolve_params,
    validate_params,
)
from engine.registry import Registry, load_registry
from engine.spec import Operator

# the names other packages use, from the modules that define them
__all__ = [
    "FLOW_SUFFIX",
    "MAX_FLOW_BYTES",
    "Flow",
    "FlowError",
    "Link",
    "Node",
    "PreparedFlow",
    "Problem",
    "ResolvedNode",
    "analyze_flow",
    "coerce_override",
    "flow_schema",
    "link_name",
    "load_flow",
    "parse_flow",
    "prepare_flow",
    "save_flow",
    "table_inputs",
    "validate_params",
]

log = logging.getLogger(__name__)


def prepare_flow(
    flow: Flow,
    registry: Registry | None = None,
    overrides: Mapping[str, str] | None = None,
    override_base: Path | None = None,
    roots: DataRoots | None = None,
) -> PreparedFlow:
    """Validate a parsed flow and resolve every node's params; raises FlowError."""
    prepared, problems = analyze_flow(flow, registry, overrides, override_base, roots)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError(errors, str(flow.path) if flow.path else None)
    prepared.warnings = [p for p in problems if p.severity != "error"]
    return prepared


def analyze_flow(
    flow: Flow,
    registry: Registry | None = None,
    overrides: Mapping[str, str] | None = None,
    override_base: Path | None = None,
    roots: DataRoots | None = None,
) -> tuple[PreparedFlow, list[Problem]]:
    """Every problem of a flow, without raising, plus what could be resolved of it: the nodes
    that are valid and the table schemas inferred for them (what an editor shows while the
    flow is still being built). ``roots``: the allowed data folders (default: the workspace,
    the flow file's folder and $SEER_DATA_ROOTS)."""
    registry = registry or load_registry()
    if roots is None:
        roots = DataRoots.for_flow(flow.path.parent if flow.path else None)
    values, subst, problems = _flow_values(flow, dict(overrides or {}))
    seen, resolved, node_problems = _resolve_nodes(flow, registry, subst, override_base, roots)
    problems += node_problems + _undefined_params(flow, subst)
    problems += _link_all(flow, seen, resolved)
    order, cycle = _order(resolved)
    problems += cycle
    schemas: dict[str, dict[str, Any]] = {}
    if order:
        bad_nodes = {p.node for p in problems}
        schemas, schema_problems = infer_schemas({nid: resolved[nid] for nid in order}, bad_nodes)
        problems += schema_problems
        problems += leakage_warnings({nid: resolved[nid] for nid in order})
    if not order:  # a cycle: keep the nodes in file order for the caller
        order = list(resolved)
    return PreparedFlow(
        flow, {nid: resolved[nid] for nid in order}, order, values, schemas, roots
    ), problems


def _flow_values(
    flow: Flow, overrides: dict[str, str]
) -> tuple[dict[str, Any], Substituter, list[Problem]]:
    """The flow params' values with the command line's overrides, and their problems."""
    problems: list[Problem] = []
    values = dict(flow.params)
    for name, text in overrides.items():
        if name not in flow.params:
            known = ", ".join(sorted(flow.params)) or "none"
            problems.append(
                Problem(
                    f'The flow has no parameter "{name}" (its parameters: {known}).'
                    + did_you_mean(name, flow.params),
                    None,
                    "unknown-flow-param",
                )
            )
            continue
        try:
            values[name] = coerce_override(name, text, flow.params[name])
        except ValueError as exc:
            problems.append(Problem(str(exc), None, "invalid-flow-param"))
    return values, Substituter(values, set(overrides)), problems


def _resolve_nodes(
    flow: Flow,
    registry: Registry,
    subst: Substituter,
    override_base: Path | None,
    roots: DataRoots,
) -> tuple[dict[str, Node], dict[str, ResolvedNode], list[Problem]]:
    """Each node's operator and resolved params (nodes with problems are left out)."""
    problems: list[Problem] = []
    seen: dict[str, Node] = {}
    resolved: dict[str, ResolvedNode] = {}
    for node in flow.nodes:
        if node.id in seen:
            problems.append(
                Problem(
                    f'Two nodes have the id "{node.id}"; node ids must be unique. Rename one.',
                    node.id,
                    "duplicate-id",
                )
            )
            continue
        seen[node.id] = node
        op, raw, problem = _operator_of(node, registry)
        if problem is not None:
            problems.append(problem)
            continue
        assert op is not None
        params, node_problems = resolve_params(
            op, node.id, raw, subst, flow.base_dir, override_base
        )
        problems += node_problems
        outside = [
            Problem(sentence, node.id, "outside-data-roots")
            for sentence in path_problems(op, node.id, params, roots)
        ]
        problems += outside or [
            Problem(sentence, node.id, "missing-file")
            for sentence in missing_input_problems(op, node.id, params, flow.base_dir)
        ]
        resolved[node.id] = ResolvedNode(
            node.id, op, params, {p.name: [] for p in op.inputs}, node.ui.get("label", "")
        )
    return seen, resolved, problems


def _operator_of(
    node: Node, registry: Registry
) -> tuple[Operator | None, dict[str, Any], Problem | None]:
    """A node's operator and its params migrated to the installed version, or the problem."""
    op = registry.get(node.op)
    raw = dict(node.params)
    if op is None:
        return (
            None,
            raw,
            Problem(
                f'Unknown operator "{node.op}".'
                + did_you_mean(node.op, registry.ids())
                + " `seer operators` lists the installed ones.",
                node.id,
                "unknown-op",
            ),
        )
    if node.version is not None and node.version > op.version:
        return (
            None,
            raw,
            Problem(
                f"The node was saved with version {node.version} of {op.id}, newer than "
                f"the installed version {op.version}. Upgrade Seer to run this flow.",
                node.id,
                "newer-op-version",
            ),
        )
    if node.version is not None and node.version < op.version:
        try:
            raw = op.migrate_params(raw, node.version)
        except Exception as exc:
            return (
                None,
                raw,
                Problem(
                    f"Params saved with version {node.version} of {op.id} could not be "
                    f"upgraded to version {op.version}: {exc}",
                    node.id,
                    "migration",
                ),
            )
    return op, raw, None


def _undefined_params(flow: Flow, subst: Substituter) -> list[Problem]:
    problems = []
    for name in sorted(subst.missing):
        users = [n.id for n in flow.nodes if f"${{{name}}}" in json.dumps(n.params)]
        problems.append(
            Problem(
                f'"${{{name}}}" refers to a flow parameter that is not declared; add '
                f'"{name}" to the flow\'s "params".',
                users[0] if users else None,
                "undefined-flow-param",
            )
        )
    return problems


def _link_all(
    flow: Flow, seen: Mapping[str, Node], resolved: Mapping[str, ResolvedNode]
) -> list[Problem]:
    """Connect the resolved nodes' inputs; the problems of links and of inputs' link counts."""
    problems: list[Problem] = []
    link_seen: set[Link] = set()
    attempted: set[tuple[str, str]] = set()  # inputs with a link, valid or not
    for lk in flow.links:
        dangling = _dangling(lk, seen)
        if dangling or lk.src not in resolved or lk.dst not in resolved:
            problems += dangling
            continue
        problem = _link_one(lk, resolved, attempted, link_seen)
        if problem is not None:
            problems.append(problem)
    return problems + _input_counts(resolved, attempted)


def _dangling(lk: Link, seen: Mapping[str, Node]) -> list[Problem]:
    problems = []
    for end, nid in (("comes from", lk.src), ("goes to", lk.dst)):
        if nid not in seen:
            problems.append(
                Problem(
                    f'The link {lk} {end} node "{nid}", which is not in the flow.'
                    + did_you_mean(nid, seen),
                    lk.dst
                    if end == "comes from" and lk.dst in seen
                    else (lk.src if lk.src in seen else None),
                    "dangling-link",
                )
            )
    return problems


def _link_one(
    lk: Link,
    resolved: Mapping[str, ResolvedNode],
    attempted: set[tuple[str, str]],
    link_seen: set[Link],
) -> Problem | None:
    """Add one link to its target's inputs, or say why it cannot be."""
    src, dst = resolved[lk.src], resolved[lk.dst]
    out_port = src.op.output_port(lk.src_port)
    in_port = dst.op.input_port(lk.dst_port)
    if in_port is not None:
        attempted.add((dst.id, in_port.name))
    if out_port is None:
        names = ", ".join(p.name for p in src.op.outputs) or "none"
        return Problem(
            f'The link {lk} starts at output "{lk.src_port}", but {src.op.id} has no '
            f"such output (its outputs: {names}).",
            src.id,
            "unknown-port",
        )
    if in_port is None:
        names = ", ".join(p.name for p in dst.op.inputs) or "none"
        return Problem(
            f'The link {lk} ends at input "{lk.dst_port}", but {dst.op.id} has no '
            f"such input (its inputs: {names}).",
            dst.id,
            "unknown-port",
        )
    if out_port.type != in_port.type:
        return Problem(
            f"The link {lk} connects a {out_port.type} output to a {in_port.type} "
            f'input; "{in_port.name}" of {dst.op.id} takes a {in_port.type}.',
            dst.id,
            "port-type",
        )
    if lk in link_seen:
        return Problem(f"The link {lk} appears twice.", dst.id, "duplicate-link")
    link_seen.add(lk)
    dst.inputs[in_port.name].append((lk.src, lk.src_port))
    return None


def _input_counts(
    resolved: Mapping[str, ResolvedNode], attempted: set[tuple[str, str]]
) -> list[Problem]:
    """Inputs that need a link and have none, and single inputs with several."""
    problems = []
    for rn in resolved.values():
        for port in rn.op.inputs:
            n = len(rn.inputs[port.name])
            if n == 0 and not port.optional and (rn.id, port.name) not in attempted:
                problems.append(
                    Problem(
                        f'Input "{port.name}" ({port.type}) of {rn.op.id} is not connected; '
                        "link an upstream node's output to it.",
                        rn.id,
                        "missing-input",
                    )
                )
            elif n > 1 and not port.multiple:
                srcs = ", ".join(f"{s}.{p}" for s, p in rn.inputs[port.name])
                problems.append(
                    Problem(
                        f'Input "{port.name}" of {rn.op.id} takes one link but has {n} '
                        f"({srcs}); remove all but one.",
                        rn.id,
                        "too-many-links",
                    )
                )
    return problems


def _order(resolved: Mapping[str, ResolvedNode]) -> tuple[list[str], list[Problem]]:
    """The nodes in topological order, or no order and the cycle found."""
    graph = {nid: {s for ups in rn.inputs.values() for s, _ in ups} for nid, rn in resolved.items()}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order()), []
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        path = " -> ".join(reversed(cycle))
        return [], [
            Problem(f"The flow has a cycle: {path}. Remove one of these links.", cycle[0], "cycle")
        ]
