"""The run cache: each node's cache key (op, version, params, upstream keys, fingerprints of
what it reads), which nodes a run can reuse, and which hand their tables on unsaved."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.flow_model import PreparedFlow, ResolvedNode
from engine.run_types import NodeResult, RunOptions
from engine.store import Store


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint_outputs(paths: Iterable[str]) -> list[Any]:
    """Size and modification time of files a node writes outside the workspace (exports)."""
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


def cache_hit(store: Store, node: ResolvedNode, key: str) -> dict[str, Any] | None:
    """The stored entry a node can reuse: its outputs still exist and the files it wrote
    outside the workspace are unchanged."""
    entry = store.cache_get(key)
    if entry is None:
        return None
    for out in entry["outputs"].values():
        if out.get("path") and not Path(out["path"]).exists():
            return None
    ext = node.op.external_outputs(node.params)
    if ext and entry["external"] != fingerprint_outputs(ext):
        return None
    return entry


def plan_cache(
    store: Store,
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
        entry = None if nid in forced else cache_hit(store, prepared.nodes[nid], keys[nid])
        transient = entry is not None and any(o.get("transient") for o in entry["outputs"].values())
        if transient and (options.keep != "needed" or any(hits[c] is None for c in consumers[nid])):
            entry = None
        hits[nid] = entry
    return hits


def passes_through(
    prepared: PreparedFlow, nid: str, consumers: Mapping[str, set[str]], options: RunOptions
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
