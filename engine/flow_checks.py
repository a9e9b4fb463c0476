"""Checks over a resolved flow that need no Spark: file paths inside the data roots, input files
that exist, column names through inferred schemas, and models scored on their own training rows."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.dataroots import DataRoots
from engine.errors import OperatorError, node_phrase
from engine.files import expand_paths, is_url
from engine.flow_model import Problem, ResolvedNode
from engine.spec import Operator, with_node
from engine.table_schema import LinkedSchemas

log = logging.getLogger(__name__)


def path_problems(
    op: Operator, node_id: str | None, params: Mapping[str, Any], roots: DataRoots
) -> list[str]:
    """Sentences for the node's file paths that lie outside the data roots."""
    try:
        paths = op.local_paths(params)
    except Exception:  # malformed params are reported by the param checks
        log.debug("local_paths failed for %s", node_id, exc_info=True)
        return []
    out = []
    for name, path in paths:
        sentence = roots.problem(path, f"The '{name}' parameter of {node_phrase(op.id, node_id)}")
        if sentence:
            out.append(sentence)
    return out


def missing_input_problems(
    op: Operator, node_id: str | None, params: Mapping[str, Any], base: Path
) -> list[str]:
    """Sentences for the files a source node (one without inputs: an import) would read that
    are not there. Only asked of paths inside the data roots (checked first), so that a flow
    cannot probe what exists elsewhere."""
    if op.inputs:
        return []  # an export's path is written, not read
    try:
        paths = op.local_paths(params)
    except Exception:  # malformed params are reported by the param checks
        log.debug("local_paths failed for %s", node_id, exc_info=True)
        return []
    out = []
    for name, path in paths:
        if is_url(path) or "\x00" in path or _names_data(path):
            continue
        what = f"the '{name}' parameter of {node_phrase(op.id, node_id)}"
        how = (
            "Check the path (relative paths resolve against the flow file's folder, "
            f"{base}) or pick the file again."
        )
        if any(c in path for c in "*?["):
            out.append(f"No file matches {path}, named by {what}. {how}")
        elif Path(path).is_dir():
            out.append(f"The folder {path}, named by {what}, holds no data file. {how}")
        else:
            out.append(f"The file or folder {path}, named by {what}, does not exist. {how}")
    return out


def _names_data(path: str) -> bool:
    """Whether a file, a folder holding a data file, or a glob's match is there (stops at the
    first file found: a folder of thousands of parts is not listed on every edit)."""
    p = Path(path)
    if any(c in path for c in "*?["):
        return bool(expand_paths(path))
    if p.is_file():
        return True
    if p.is_dir():
        for f in p.rglob("*"):
            if f.is_file() and not any(
                part.startswith((".", "_")) for part in f.relative_to(p).parts
            ):
                return True
    return False


def table_inputs(node: ResolvedNode, outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A node's input schemas from its upstream nodes' output schemas (lists for ports
    that take several links)."""
    ins: dict[str, Any] = {}
    for port in node.op.inputs:
        if port.type != "table":
            continue
        links = node.inputs[port.name]
        ups = [outputs.get(src, {}).get(sport) for src, sport in links]
        names = [link_name(links, src, sport) for src, sport in links]
        ins[port.name] = LinkedSchemas(ups, names) if port.multiple else (ups[0] if ups else None)
    return ins


def link_name(links: list[tuple[str, str]], src: str, sport: str) -> str:
    """How an operator sees one link of an input (as the runner names it): the upstream node
    id, or <node>_<port> when several links come from the same node."""
    return src if sum(1 for s, _ in links if s == src) == 1 else f"{src}_{sport}"


def infer_schemas(
    nodes: Mapping[str, ResolvedNode], skip: set[str | None] | None = None
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Propagate table schemas through the flow without running Spark (nodes in
    topological order) and collect column names that do not exist."""
    skip = skip or set()
    schemas: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for nid, node in nodes.items():
        if nid in skip:
            schemas[nid] = {}
            continue
        ins = table_inputs(node, schemas)
        try:
            for _, sentence in node.op.check_columns(ins, node.params):
                problems.append(
                    Problem(with_node(sentence, node.op.id, nid), nid, "unknown-column")
                )
            schemas[nid] = dict(node.op.infer_schema(ins, node.params) or {})
        except OperatorError as exc:
            problems.append(Problem(with_node(str(exc), node.op.id, nid), nid, "schema"))
            schemas[nid] = {}
        except Exception:  # an unknown schema is not an error: it is found out at run time
            log.debug("infer_schema failed for %s", nid, exc_info=True)
            schemas[nid] = {}
    return schemas, problems


# A table output is a "row set" when its operator cuts its input into several tables (a split's
# train and test): rows that descend from one row set are the same rows wherever they go.
RowSet = tuple[str, str]  # (node id, output port)


def _row_sets(node: ResolvedNode, rows: Mapping[RowSet, frozenset[RowSet]]) -> dict[str, Any]:
    """The row sets each table input port of ``node`` descends from."""
    return {
        port.name: frozenset().union(
            *(rows.get(link, frozenset()) for link in node.inputs[port.name])
        )
        for port in node.op.inputs
        if port.type == "table"
    }


def leakage_warnings(nodes: Mapping[str, ResolvedNode]) -> list[Problem]:
    """Warnings for models scored on rows they were trained on: the scored table and the
    model's training table descend from the same row set (same split node, same output).
    ``nodes`` in topological order."""
    rows: dict[RowSet, frozenset[RowSet]] = {}  # table output -> the row sets it descends from
    trained: dict[RowSet, dict[RowSet, str]] = {}  # model output -> row set -> training node
    warnings: list[Problem] = []
    for nid, node in nodes.items():
        ins = _row_sets(node, rows)
        models: dict[RowSet, str] = {}
        for port in node.op.inputs:
            if port.type == "model":
                for link in node.inputs[port.name]:
                    models.update(trained.get(link, {}))
        for port_name, sets in ins.items():
            if node.op.compares_training_scores or _only_compared(nodes, nid):
                break
            for row_set in sorted(sets & set(models)):
                warnings.append(_leak(nodes, nid, port_name, models[row_set], row_set))
        cutting = sum(p.type == "table" for p in node.op.outputs) > 1
        every = frozenset().union(*ins.values())
        for out in node.op.outputs:
            if out.type == "table":
                own = {(nid, out.name)} if cutting and out.name not in ins else set()
                rows[(nid, out.name)] = ins.get(out.name, every) | own
            elif out.type == "model":  # trained on its "train" input (not on validation rows)
                fitted = ins.get("train", every)
                trained[(nid, out.name)] = {**models, **dict.fromkeys(fitted, nid)}
    return warnings


def _only_compared(nodes: Mapping[str, ResolvedNode], nid: str) -> bool:
    """Whether every node reading ``nid``'s outputs sets training scores beside other scores,
    labelled as such (a model report): scoring training rows for it is not leakage."""
    readers = [
        node
        for node in nodes.values()
        for ups in node.inputs.values()
        for src, _ in ups
        if src == nid
    ]
    return bool(readers) and all(node.op.compares_training_scores for node in readers)


def _leak(
    nodes: Mapping[str, ResolvedNode], nid: str, port: str, trainer: str, row_set: RowSet
) -> Problem:
    source, side = row_set
    cutter = nodes[source].op
    others = [p.name for p in cutter.outputs if p.type == "table" and p.name != side]
    fix = (
        f'Link the "{others[0]}" output of {_named(nodes[source])} to the "{port}" input of '
        f"{_named(nodes[nid])} instead."
        if others
        else "Score rows the model was not trained on."
    )
    return Problem(
        f"N{_named(nodes[nid])[1:]} scores rows that {_named(nodes[trainer])} was "
        f'trained on: both come from the "{side}" output of {_named(nodes[source])}, so its '
        f"scores and their evaluation will look better than the model really is. {fix}",
        nid,
        "leakage",
        "warning",
    )


def _named(node: ResolvedNode) -> str:
    """A node as the canvas shows it: its label, and its id (what the Problems list shows)."""
    if node.label and node.label != node.id:
        return f'node "{node.label}" ({node.id})'
    return f'node "{node.id}"'
