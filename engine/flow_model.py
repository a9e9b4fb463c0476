"""A flow as the engine sees it: the nodes and links of a flow file, the problems found in it,
and the resolved form a run works from (params resolved, nodes in topological order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dataroots import DataRoots
from engine.spec import Operator

FLOW_FORMAT = 1


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
