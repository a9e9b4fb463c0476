"""Flow files: parsing, validation that collects every problem, and resolution.

A flow file is JSON (format 1, see docs/flow-file.md and schemas/flow-v1.schema.json).
Loading never executes anything from the file. ``prepare_flow`` turns a parsed flow into
nodes with fully resolved params (defaults applied, old operator versions migrated, flow
parameters substituted, relative paths made absolute) or raises ``FlowError`` with every
problem found.
"""

from __future__ import annotations

import copy
import difflib
import graphlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from engine.atomic import atomic_write_text
from engine.dataroots import DataRoots
from engine.errors import OperatorError, node_phrase
from engine.files import expand_paths
from engine.registry import Registry, load_registry
from engine.spec import MISSING, Operator, param_message, with_node
from engine.table_schema import LinkedSchemas

FLOW_FORMAT = 1
FLOW_SUFFIX = ".flow.json"
# Limits that keep validation fast and safe on any input (a flow is data from anyone)
MAX_FLOW_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 5_000
MAX_LINKS = 20_000
log = logging.getLogger(__name__)
_PARAM_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow: a human sentence, the node it concerns, a code."""

    message: str
    node: str | None = None
    code: str = "invalid"
    #: "error" stops a run; "warning" (e.g. a model scored on its own training rows) does not
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }

    def __str__(self) -> str:
        head = "warning: " if self.severity == "warning" else ""
        return f'{head}node "{self.node}": {self.message}' if self.node else head + self.message


class FlowError(Exception):
    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        n = len(problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} in the flow:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass
class Node:
    id: str
    op: str
    version: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "op": self.op}
        if self.version is not None:
            out["version"] = self.version
        out["params"] = self.params
        if self.ui:
            out["ui"] = self.ui
        return out


@dataclass(frozen=True)
class Link:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_json(self) -> dict[str, Any]:
        return {
            "from": {"node": self.src, "port": self.src_port},
            "to": {"node": self.dst, "port": self.dst_port},
        }

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


@dataclass
class Flow:
    name: str
    nodes: list[Node]
    links: list[Link]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    ui: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: a stable identity kept in the file (new on Save as, Duplicate, import as a copy): runs
    #: record it, so results are never shown for another flow that has the same node ids
    id: str | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seer_flow": FLOW_FORMAT, "name": self.name}
        if self.id:
            out["id"] = self.id
        if self.description:
            out["description"] = self.description
        if self.params:
            out["params"] = self.params
        out["nodes"] = [n.to_json() for n in self.nodes]
        out["links"] = [lk.to_json() for lk in self.links]
        if self.ui:
            out["ui"] = self.ui
        return out


# -- parsing ---------------------------------------------------------------------------------
@cache
def flow_schema() -> dict[str, Any]:
    """The JSON Schema of flow files (shipped in the package)."""
    text = resources.files("engine").joinpath("schemas/flow-v1.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _flow_validator() -> jsonschema.Draft202012Validator:
    """The flow schema's validator, with its (non-recursive) $refs inlined: resolving a $ref
    per node was most of the cost of validating a big flow."""
    schema = flow_schema()
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return jsonschema.Draft202012Validator(inline(schema))


def _schema_problem(err: jsonschema.ValidationError, data: Any) -> Problem:
    path = list(err.absolute_path)
    node_id = None
    where = "the flow"
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        raw = data["nodes"][path[1]]
        node_id = (
            raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        )
        where = f"node #{path[1] + 1}"
        rest = path[2:]
    elif len(path) >= 2 and path[0] == "links" and isinstance(path[1], int):
        where = f"link #{path[1] + 1}"
        rest = path[2:]
    else:
        rest = path
    field_name = ".".join(str(p) for p in rest)
    msg = err.message
    if err.validator == "pattern" and rest and rest[-1] == "id":
        msg = (
            f"the node id {err.instance!r} may only contain letters, digits, '_' and '-' "
            "(at most 64 characters)"
        )
    elif err.validator == "additionalProperties":
        msg = f"{msg}; remove it"
    text = f"In {where}{', field ' + repr(field_name) if field_name else ''}: {msg}."
    return Problem(text, node_id, "schema")


def parse_flow(text: str, path: str | Path | None = None) -> Flow:
    """Parse flow JSON text; raises FlowError on malformed JSON or a wrong structure."""
    source = str(path) if path else None
    if len(text) > MAX_FLOW_BYTES:
        msg = f"The flow is larger than {MAX_FLOW_BYTES // 2**20} MB; a flow file holds no data."
        raise FlowError([Problem(msg, None, "too-big")], source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        raise FlowError([Problem(msg, None, "json")], source) from None
    except RecursionError:
        data = None  # nested too deeply for the parser: reported below
    if data is None or _depth_exceeds(data, MAX_DEPTH):
        msg = f"The flow is nested more than {MAX_DEPTH} levels deep; no flow needs that."
        raise FlowError([Problem(msg, None, "too-deep")], source)
    if not isinstance(data, dict):
        raise FlowError([Problem("A flow file must hold a JSON object.", None, "schema")], source)
    for key, limit in (("nodes", MAX_NODES), ("links", MAX_LINKS)):
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            msg = (
                f"The flow has {len(items):,} {key}; Seer reads at most {limit:,}. Split it "
                "into several flows."
            )
            raise FlowError([Problem(msg, None, "too-big")], source)
    version = data.get("seer_flow")
    if isinstance(version, int) and not isinstance(version, bool) and version > FLOW_FORMAT:
        msg = (
            f"This flow was saved in flow format {version}, newer than this Seer reads "
            f"(format {FLOW_FORMAT}). Upgrade Seer to open it."
        )
        raise FlowError([Problem(msg, None, "newer-format")], source)
    validator = _flow_validator()
    problems = [
        _schema_problem(e, data)
        for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise FlowError(problems, source)
    p = Path(path).resolve() if path else None
    name = data.get("name") or (
        p.name.removesuffix(FLOW_SUFFIX).removesuffix(".json") if p else "flow"
    )
    return Flow(
        name=name,
        description=data.get("description", ""),
        params=dict(data.get("params", {})),
        nodes=[
            Node(
                id=n["id"],
                op=n["op"],
                version=n.get("version"),
                params=dict(n.get("params", {})),
                ui=dict(n.get("ui", {})),
            )
            for n in data["nodes"]
        ],
        links=[
            Link(lk["from"]["node"], lk["from"]["port"], lk["to"]["node"], lk["to"]["port"])
            for lk in data.get("links", [])
        ],
        ui=dict(data.get("ui", {})),
        path=p,
        id=data.get("id"),
    )


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True when JSON ``data`` nests deeper than ``limit`` (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def load_flow(path: str | Path) -> Flow:
    if "\x00" in str(path):
        msg = "The file name contains a null character; rename the file."
        raise FlowError([Problem(msg, None, "io")], repr(str(path))) from None
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_FLOW_BYTES:
            msg = (
                f"The file is larger than {MAX_FLOW_BYTES // 2**20} MB; a flow file holds no data."
            )
            raise FlowError([Problem(msg, None, "too-big")], str(p))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowError([Problem(f"No flow file at {p}.", None, "missing-file")], str(p)) from None
    except UnicodeDecodeError as exc:
        msg = f"The file is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON."
        raise FlowError([Problem(msg, None, "json")], str(p)) from None
    except OSError as exc:
        raise FlowError(
            [Problem(f"Cannot read {p}: {exc.strerror}.", None, "io")], str(p)
        ) from None
    return parse_flow(text, p)


def save_flow(flow: Flow, path: str | Path) -> Path:
    """Write the flow atomically (temporary file, then rename)."""
    p = Path(path)
    atomic_write_text(p, json.dumps(flow.to_json(), indent=2, ensure_ascii=False) + "\n")
    return p


# -- resolution and semantic validation --------------------------------------------------------
@dataclass
class ResolvedNode:
    id: str
    op: Operator
    params: dict[str, Any]
    # input port -> upstream (node id, output port) pairs, in flow-file order
    inputs: dict[str, list[tuple[str, str]]]
    label: str = ""


@dataclass
class PreparedFlow:
    flow: Flow
    nodes: dict[str, ResolvedNode]  # in topological order
    order: list[str]
    flow_params: dict[str, Any]
    # node id -> output port -> inferred table schema (None when unknown before a run)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the folders the flow's file paths may point into; checked again when a node runs
    roots: DataRoots | None = None
    # what validation warns about without refusing the flow (see Problem.severity)
    warnings: list[Problem] = field(default_factory=list)

    def downstream(self, node_id: str) -> set[str]:
        """The node and every node that depends on it."""
        out = {node_id}
        changed = True
        while changed:
            changed = False
            for n in self.nodes.values():
                if n.id not in out and any(
                    src in out for ups in n.inputs.values() for src, _ in ups
                ):
                    out.add(n.id)
                    changed = True
        return out

    def upstream(self, node_id: str) -> set[str]:
        """The node and every node it depends on."""
        out = {node_id}
        stack = [node_id]
        while stack:
            for ups in self.nodes[stack.pop()].inputs.values():
                for src, _ in ups:
                    if src not in out:
                        out.add(src)
                        stack.append(src)
        return out


def coerce_override(name: str, text: str, default: Any) -> Any:
    """A ``--param name=value`` string, read as the type of the declared default."""
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"--param {name} must be true or false. Got {text!r}.")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"--param {name} must be an integer. Got {text!r}.") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--param {name} must be a number. Got {text!r}.") from None
    if isinstance(default, (list, dict)):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"--param {name} must be JSON. Got {text!r}.") from None
    return text


class _Substituter:
    def __init__(self, values: Mapping[str, Any], from_cli: set[str]):
        self.values = values
        self.from_cli = from_cli
        self.missing: set[str] = set()

    def __call__(self, value: Any) -> tuple[Any, bool]:
        """Returns the substituted value and whether it came whole from a CLI override."""
        if isinstance(value, str):
            whole = _PARAM_REF.fullmatch(value)
            if whole:
                name = whole.group(1)
                if name not in self.values:
                    self.missing.add(name)
                    return value, False
                return copy.deepcopy(self.values[name]), name in self.from_cli

            def repl(m: re.Match[str]) -> str:
                if m.group(1) not in self.values:
                    self.missing.add(m.group(1))
                    return m.group(0)
                return str(self.values[m.group(1)])

            return _PARAM_REF.sub(repl, value), False
        if isinstance(value, list):
            return [self(v)[0] for v in value], False
        if isinstance(value, dict):
            return {k: self(v)[0] for k, v in value.items()}, False
        return value, False


def _is_url(text: str) -> bool:
    return "://" in text or text.startswith(("jdbc:", "s3a:", "gs:", "hdfs:", "abfss:"))


def resolve_path(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not _is_url(value) and "\x00" not in value:
        p = Path(os.path.expanduser(value))
        return str(p if p.is_absolute() else (base / p).resolve())
    if isinstance(value, list):
        return [resolve_path(v, base) for v in value]
    return value


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


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
) -> tuple[dict[str, Any], _Substituter, list[Problem]]:
    """The flow params' values with the command line's overrides, and their problems."""
    problems: list[Problem] = []
    values = dict(flow.params)
    for name, text in overrides.items():
        if name not in flow.params:
            known = ", ".join(sorted(flow.params)) or "none"
            problems.append(
                Problem(
                    f'The flow has no parameter "{name}" (its parameters: {known}).'
                    + _did_you_mean(name, flow.params),
                    None,
                    "unknown-flow-param",
                )
            )
            continue
        try:
            values[name] = coerce_override(name, text, flow.params[name])
        except ValueError as exc:
            problems.append(Problem(str(exc), None, "invalid-flow-param"))
    return values, _Substituter(values, set(overrides)), problems


def _resolve_nodes(
    flow: Flow,
    registry: Registry,
    subst: _Substituter,
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
        params, node_problems = _resolve_params(
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
                + _did_you_mean(node.op, registry.ids())
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


def _undefined_params(flow: Flow, subst: _Substituter) -> list[Problem]:
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
                    + _did_you_mean(nid, seen),
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
        sentence = roots.problem(path, f"The '{name}' parameter of {_where(op, node_id)}")
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
        if _is_url(path) or "\x00" in path or _names_data(path):
            continue
        what = f"the '{name}' parameter of {_where(op, node_id)}"
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


def _where(op: Operator, node_id: str | None) -> str:
    return node_phrase(op.id, node_id)


def _resolve_params(
    op: Operator,
    node_id: str | None,
    raw: Mapping[str, Any],
    subst: _Substituter,
    base: Path,
    override_base: Path | None,
) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []
    known = {p.name for p in op.params}
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            problems.append(
                Problem(
                    f"{op.id} has no parameter '{name}'."
                    + _did_you_mean(name, known)
                    + f" Its parameters: {', '.join(sorted(known)) or 'none'}.",
                    node_id,
                    "unknown-param",
                )
            )
            continue
        before = len(subst.missing)
        value, from_cli = subst(value)
        if len(subst.missing) > before:
            continue  # reported once per missing flow param
        spec = op.param(name)
        if spec.widget == "path" and value is not None:
            value = resolve_path(value, (override_base or Path.cwd()) if from_cli else base)
        params[name] = value
    full = op.with_defaults(params)
    try:
        full = op.resolve_params(full, base)
    except Exception:  # a param that cannot be resolved is reported by the checks below
        log.debug("resolve_params failed for %s", node_id, exc_info=True)
    bad: set[str] = set()
    for spec in op.params:
        value = full.get(spec.name, MISSING)
        if value is MISSING:
            if spec.required:
                problems.append(
                    Problem(
                        f"The '{spec.name}' parameter of {_where(op, node_id)} is required: "
                        f"{spec.description or spec.describe()}",
                        node_id,
                        "missing-param",
                    )
                )
                bad.add(spec.name)
            continue
        if spec.name in raw and spec.name not in params:
            bad.add(spec.name)  # substitution failed; reported already
            continue
        if not spec.accepts(value):
            problems.append(
                Problem(param_message(op.id, node_id, spec, value), node_id, "invalid-param")
            )
            bad.add(spec.name)
    if not problems:
        try:
            checked = op.check_params(full)
        except Exception as exc:  # an operator's own check met params of an unexpected shape
            log.debug("check_params failed for %s", node_id, exc_info=True)
            checked = [
                (
                    "",
                    f"The params of {_where(op, node_id)} have an unexpected shape and could "
                    f"not be checked ({type(exc).__name__}); compare them with "
                    f"`seer operators` or docs/operators.md.",
                )
            ]
        for pname, sentence in checked:
            if pname not in bad:
                problems.append(
                    Problem(with_node(sentence, op.id, node_id), node_id, "invalid-param")
                )
    return full, problems


def validate_params(
    op: Operator, params: Mapping[str, Any], node_id: str | None = None
) -> list[str]:
    """Check one node's params as the flow loader does; returns the messages (empty if valid).

    Used by the studio's inline validation and by the per-operator spec tests.
    """
    subst = _Substituter({}, set())
    _, problems = _resolve_params(op, node_id, params, subst, Path.cwd(), None)
    return [p.message for p in problems]
