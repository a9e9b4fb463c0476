"""What the studio knows about flows, apart from any UI: the operator catalogue the canvas
needs, the canvas document <-> flow file conversion, live validation with inferred column
names, and the flows folder (list, save atomically, rename, duplicate, delete)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes, atomic_write_text
from engine.dataroots import DataRoots
from engine.flow import (
    FLOW_SUFFIX,
    Flow,
    FlowError,
    Link,
    Node,
    Problem,
    analyze_flow,
    load_flow,
    parse_flow,
    table_inputs,
)
from engine.registry import load_registry
from engine.spec import CATEGORIES

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sample_flows"

#: Canvas colours of the operator categories (border and badge), one for each of the closed
#: set engine.spec.CATEGORIES; white badge text on each has a contrast of at least 4.5:1.
CATEGORY_COLOURS = {
    "Data": "#1d4ed8",
    "Clean": "#0e7490",
    "Transform": "#0f766e",
    "Features": "#6d28d9",
    "Models": "#be185d",
    "Evaluation": "#c2410c",
    "Deploy": "#15803d",
    "Other": "#4b5563",
}
CATEGORY_ORDER = list(CATEGORIES)


def catalog() -> dict[str, dict[str, Any]]:
    """Every installed operator's spec, as the canvas and the forms use it."""
    out = {}
    for op in load_registry().all():
        spec = op.spec_json()
        spec["colour"] = CATEGORY_COLOURS[op.category]
        out[op.id] = spec
    return out


def palette_groups() -> list[tuple[str, list[dict[str, Any]]]]:
    """Operators grouped by category, in a reading order: data in, then out."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in catalog().values():
        groups.setdefault(spec["category"], []).append(spec)
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    return [
        (cat, sorted(specs, key=lambda s: s["title"] or s["id"]))
        for cat, specs in sorted(groups.items(), key=lambda kv: (order.get(kv[0], 50), kv[0]))
    ]


# -- canvas document <-> flow ---------------------------------------------------------------
# The canvas document is what the browser sends: {"nodes": [{"id", "op", "label", "params",
# "x", "y"}], "links": [{"source", "target", "sourcePort", "targetPort"}]}; flow-level fields
# (name, description, params, ui) travel separately as the flow's "meta".


def flow_to_elements(flow: Flow) -> list[dict[str, Any]]:
    """Cytoscape elements for a flow (nodes with their params in `data`, links as edges)."""
    cat = catalog()
    elements: list[dict[str, Any]] = []
    parent_of: dict[str, str] = {}
    for g in flow.ui.get("groups", []):
        name = g.get("name") or g["id"]
        elements.append(
            {
                "data": {
                    "id": g["id"],
                    "group": name,
                    "label": name,
                    "collapsed": bool(g.get("collapsed")),
                    "colour": "#94a3b8",
                },
                "classes": "group",
            }
        )
        for nid in g.get("nodes", []):
            parent_of[nid] = g["id"]
    for i, n in enumerate(flow.nodes):
        spec = cat.get(n.op, {})
        x = n.ui.get("x", 80 + 200 * (i % 5))
        y = n.ui.get("y", 100 + 120 * (i // 5))
        data = node_data(n.id, n.op, n.ui.get("label") or spec.get("title") or n.op, n.params, spec)
        if n.id in parent_of:
            data["parent"] = parent_of[n.id]
        elements.append({"data": data, "position": {"x": float(x), "y": float(y)}})
    for lk in flow.links:
        elements.append({"data": edge_data(lk.src, lk.src_port, lk.dst, lk.dst_port)})
    for note in flow.ui.get("notes", []):
        elements.append(
            {
                "data": {
                    "id": note["id"],
                    "note": note.get("text", ""),
                    "label": note.get("text", ""),
                },
                "position": {"x": float(note.get("x", 0)), "y": float(note.get("y", 0))},
                "classes": "note",
            }
        )
    return elements


def node_data(
    nid: str, op: str, label: str, params: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": nid,
        "op": op,
        "label": label,
        "params": params,
        "colour": spec.get("colour", "#6b7280"),
        "category": spec.get("category", ""),
    }


def edge_data(src: str, sport: str, dst: str, dport: str) -> dict[str, Any]:
    return {
        "id": f"{src}.{sport}->{dst}.{dport}",
        "source": src,
        "target": dst,
        "sourcePort": sport,
        "targetPort": dport,
        "label": f"{sport} → {dport}",
    }


def doc_to_flow(doc: dict[str, Any], meta: dict[str, Any], path: Path | None = None) -> Flow:
    cat = catalog()
    nodes = []
    for n in doc.get("nodes", []):
        spec = cat.get(n["op"])
        ui: dict[str, Any] = {
            "x": round(float(n.get("x", 0)), 1),
            "y": round(float(n.get("y", 0)), 1),
        }
        if n.get("label"):
            ui["label"] = n["label"]
        nodes.append(
            Node(
                id=n["id"],
                op=n["op"],
                version=spec["version"] if spec else None,
                params=dict(n.get("params") or {}),
                ui=ui,
            )
        )
    links = [
        Link(lk["source"], lk["sourcePort"], lk["target"], lk["targetPort"])
        for lk in doc.get("links", [])
    ]
    ui = dict(meta.get("ui") or {})
    ui.pop("notes", None)
    ui.pop("groups", None)
    known = {n.id for n in nodes}
    groups = [
        {
            "id": g["id"],
            "name": g.get("name") or g["id"],
            "nodes": [nid for nid in g.get("nodes", []) if nid in known],
            "collapsed": bool(g.get("collapsed")),
        }
        for g in doc.get("groups") or []
    ]
    groups = [g for g in groups if g["nodes"]]
    if groups:
        ui["groups"] = groups
    if doc.get("notes"):
        ui["notes"] = [
            {
                "id": n["id"],
                "text": n["text"],
                "x": round(float(n["x"]), 1),
                "y": round(float(n["y"]), 1),
            }
            for n in doc["notes"]
        ]
    return Flow(
        name=meta.get("name") or "untitled",
        nodes=nodes,
        links=links,
        params=dict(meta.get("params") or {}),
        description=meta.get("description") or "",
        ui=ui,
        path=path,
        id=meta.get("id") or None,
    )


def flow_meta(flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "name": flow.name,
        "description": flow.description,
        "params": flow.params,
        "ui": flow.ui,
    }


def flow_text(flow: Flow) -> str:
    return json.dumps(flow.to_json(), indent=2, ensure_ascii=False) + "\n"


def saved_hash(flow: Flow) -> str:
    """What tells a saved flow from an edited one: its JSON with each param that equals the
    operator's default left out (the parameter form drops those, which changes nothing)."""
    data = flow.to_json()
    cat = catalog()
    for n in data["nodes"]:
        defaults = {p["name"]: p.get("default") for p in cat.get(n["op"], {}).get("params", [])}
        n["params"] = {
            k: v
            for k, v in (n.get("params") or {}).items()
            if not (k in defaults and defaults[k] == v)
        }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- live validation ------------------------------------------------------------------------
@dataclass
class Analysis:
    problems: list[Problem] = field(default_factory=list)
    #: node id -> input port -> column names known without running Spark
    input_columns: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: node id -> input port -> column name -> type, where the schema knows it
    input_types: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


def analyze(flow: Flow, roots: DataRoots | None = None) -> Analysis:
    """Every problem of the flow (never raises) and the columns each node's inputs will have."""
    try:
        prepared, problems = analyze_flow(flow, roots=roots)
    except FlowError as exc:
        return Analysis(exc.problems)
    except Exception as exc:  # a bug in an operator's checks must not take the editor down
        return Analysis([Problem(f"The flow could not be checked: {exc}", None, "internal")])
    cols: dict[str, dict[str, list[str]]] = {}
    types: dict[str, dict[str, dict[str, str]]] = {}
    for nid, node in prepared.nodes.items():
        ins = table_inputs(node, prepared.schemas)
        per_port: dict[str, list[str]] = {}
        for port, schema in ins.items():
            schemas = schema if isinstance(schema, list) else [schema]
            known: dict[str, str] = {}
            for s in schemas:
                for col in getattr(s, "columns", ()) or ():
                    known.setdefault(col.name, col.type)
            per_port[port] = list(known)
            types.setdefault(nid, {})[port] = known
        cols[nid] = per_port
    return Analysis(problems, cols, types)


# -- the flows folder -----------------------------------------------------------------------
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$")


class FlowStoreError(Exception):
    """A flow file name or flows-folder operation that cannot be done (the message says why)."""


def check_flow_name(name: str) -> str:
    name = (name or "").strip()
    if name.endswith(FLOW_SUFFIX):
        name = name[: -len(FLOW_SUFFIX)]
    if not _NAME_RE.match(name):
        raise FlowStoreError(
            f'"{name}" is not a usable flow name: use letters, digits, spaces, ".", "_" or "-" '
            "(at most 80 characters, starting with a letter or digit)."
        )
    return name


class FlowFolder:
    """The workspace's flows/ folder; every write is atomic."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / f"{check_flow_name(name)}{FLOW_SUFFIX}"

    def list(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        out = []
        for p in sorted(
            self.root.glob(f"*{FLOW_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True
        ):
            out.append(
                {"name": p.name[: -len(FLOW_SUFFIX)], "path": str(p), "modified": p.stat().st_mtime}
            )
        return out

    def save(self, flow: Flow, name: str) -> Path:
        p = self.path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p, flow_text(flow))
        return p

    def load(self, name: str) -> Flow:
        return load_flow(self.path(name))

    def rename(self, old: str, new: str) -> Path:
        src, dst = self.path(old), self.path(new)
        if dst.exists():
            raise FlowStoreError(
                f'A flow named "{check_flow_name(new)}" already exists; choose another name.'
            )
        src.rename(dst)
        return dst

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def unused_name(self, base: str) -> str:
        base = check_flow_name(base)
        if not self.path(base).exists():
            return base
        i = 2
        while self.path(f"{base} {i}").exists():
            i += 1
        return f"{base} {i}"


def sample_flows() -> list[dict[str, Any]]:
    out = []
    for p in sorted(SAMPLES_DIR.glob(f"*{FLOW_SUFFIX}")):
        try:
            data = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        out.append(
            {
                "name": p.name[: -len(FLOW_SUFFIX)],
                "path": str(p),
                "description": data.get("description", ""),
            }
        )
    return out


def load_sample(name: str, data_dir: Path) -> Flow:
    """A sample flow, its data files copied into ``data_dir`` (the workspace's flows/data, a
    data root) and its paths pointing there, so it runs from the workspace."""
    p = SAMPLES_DIR / f"{name}{FLOW_SUFFIX}"
    flow = absolutize_paths(load_flow(p), p.parent)
    samples_data = (SAMPLES_DIR / "data").resolve()

    def moved(path: str) -> str:
        src = Path(path)
        try:  # any text param comes here: a SQL query is no file name
            if not src.is_file() or samples_data not in src.resolve().parents:
                return path
        except (OSError, ValueError):
            return path
        target = data_dir / src.name
        if not target.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, src.read_bytes())
        return str(target)

    for n in flow.nodes:
        for key, value in list(n.params.items()):
            if isinstance(value, str) and value.startswith("sqlite:///"):
                n.params[key] = "sqlite:///" + moved(value[len("sqlite:///") :])
            elif isinstance(value, str):
                n.params[key] = moved(value)
    for key, value in list(flow.params.items()):
        if isinstance(value, str):
            flow.params[key] = moved(value)
    return flow


def absolutize_paths(flow: Flow, base: Path) -> Flow:
    """Relative file paths in path-widget params, made absolute against `base`."""
    cat = catalog()
    for n in flow.nodes:
        spec = cat.get(n.op)
        if not spec:
            continue
        for p in spec["params"]:
            v = n.params.get(p["name"])
            if not isinstance(v, str) or not v or "${" in v:
                continue
            if v.startswith("sqlite:///") and not v.startswith("sqlite:////"):
                n.params[p["name"]] = "sqlite:///" + str((base / v[len("sqlite:///") :]).resolve())
            elif p.get("x-widget") == "path" and "://" not in v and not Path(v).is_absolute():
                n.params[p["name"]] = str((base / v).resolve())
    for k, v in list(flow.params.items()):
        if isinstance(v, str) and (
            v.endswith((".csv", ".parquet", ".db")) and not Path(v).is_absolute()
        ):
            flow.params[k] = str((base / v).resolve())
    return flow


def parse_upload(text: str, filename: str) -> Flow:
    """A flow file uploaded from the browser (raises FlowError with every problem); a file
    without a name inside is named after the uploaded file."""
    flow = parse_flow(text, None)
    if flow.name == "flow" and filename:
        flow.name = Path(filename).name.removesuffix(FLOW_SUFFIX).removesuffix(".json")
    return flow
