"""Runs started from the studio: in this process, on threads, against the one warm
SparkSession (docs/design.md decision 10). Run state lives in the workspace store, so a reloaded
page finds a run again by its id."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from engine.dataroots import DataRoots
from engine.flow import Flow, FlowError, prepare_flow
from engine.runner import RunHandle, Runner, RunOptions
from engine.workspace import Workspace
from studio.model import FlowFolder

FINAL = {"succeeded", "failed", "cancelled"}


def upstream_flow(flow: Flow, node_id: str) -> Flow:
    """The part of the flow a node needs: the node and everything feeding it. Run to here
    runs that part, so the nodes after it need not be configured yet."""
    keep = {node_id}
    grew = True
    while grew:
        grew = False
        for lk in flow.links:
            if lk.dst in keep and lk.src not in keep:
                keep.add(lk.src)
                grew = True
    nodes = [n for n in flow.nodes if n.id in keep]
    links = [lk for lk in flow.links if lk.src in keep and lk.dst in keep]
    return dataclasses.replace(flow, nodes=nodes, links=links)


class RunManager:
    def __init__(
        self, workspace: Workspace, master: str | None = None, roots: DataRoots | None = None
    ):
        self.ws = workspace
        self.master = master
        self.roots = roots
        self.runner = Runner(workspace)
        self._handles: dict[str, RunHandle] = {}
        self._lock = threading.Lock()

    def start(
        self,
        flow: Flow,
        *,
        to_node: str | None = None,
        force: set[str] | None = None,
    ) -> str:
        """Start a run; raises FlowError when the flow (up to ``to_node``) is not valid."""
        if to_node and flow.node(to_node) is not None:
            flow = upstream_flow(flow, to_node)
        prepared = prepare_flow(flow, roots=self.roots)
        options = RunOptions(master=self.master, to_node=to_node, force=set(force or ()))
        handle = self.runner.start(prepared, options, background=True)
        with self._lock:
            self._handles[handle.run_id] = handle
        return handle.run_id

    def cancel(self, run_id: str) -> bool:
        with self._lock:
            handle = self._handles.get(run_id)
        if handle is None or handle.done():
            return False
        handle.cancel()
        return True

    def active(self, run_id: str) -> bool:
        with self._lock:
            handle = self._handles.get(run_id)
        return handle is not None and not handle.done()

    def status(self, run_id: str, after_log: int = 0) -> dict[str, Any] | None:
        """The run as the canvas shows it: run status, per-node status/seconds/rows/error,
        and log lines after `after_log`."""
        store = self.ws.store
        run = store.get_run(run_id)
        if run is None:
            return None
        nodes = {}
        now = time.time()
        for r in store.node_runs(run_id):
            seconds = r.get("seconds")
            if r["status"] == "running" and r.get("started_at"):
                seconds = now - r["started_at"]
            nodes[r["node_id"]] = {
                "status": r["status"],
                "seconds": None if seconds is None else round(float(seconds), 1),
                "rows": r.get("rows") or {},
                "error": r.get("error"),
                "metrics": r.get("metrics"),
            }
        status = run["status"]
        # a run whose thread is gone (the studio restarted) is over, whatever the store says
        if status == "running" and not self.active(run_id):
            with self._lock:
                known = run_id in self._handles
            if not known:
                status = "interrupted"
        logs = store.logs(run_id, after_log)
        return {
            "run_id": run_id,
            "status": status,
            "flow_name": run["flow_name"],
            "flow_id": run.get("flow_id"),
            "started_at": run["started_at"],
            "finished_at": run.get("finished_at"),
            "nodes": nodes,
            "logs": [
                {
                    "id": lg["id"],
                    "node": lg["node_id"],
                    "level": lg["level"],
                    "message": lg["message"],
                    "ts": lg["ts"],
                }
                for lg in logs
            ],
        }


def run_flow_path(ws: Workspace, name: str | None) -> Path:
    """Where a studio flow lives for path resolution (relative paths resolve against flows/)."""
    folder = FlowFolder(ws.flows_dir)
    return folder.path(name) if name else ws.flows_dir / "untitled.flow.json"


__all__ = ["FINAL", "FlowError", "RunManager", "run_flow_path"]
