"""Flow files: the JSON format (schemas/flow-v1.schema.json, docs/flow-file.md), parsed and
checked against its schema with every problem collected, and saved atomically. Loading never
executes anything from the file."""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from engine.atomic import atomic_write_text
from engine.flow_model import FLOW_FORMAT, Flow, FlowError, Link, Node, Problem

FLOW_SUFFIX = ".flow.json"


# Limits that keep validation fast and safe on any input (a flow is data from anyone)
MAX_FLOW_BYTES = 20 * 1024 * 1024


MAX_DEPTH = 64


MAX_NODES = 5_000


MAX_LINKS = 20_000


log = logging.getLogger(__name__)


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
