"""Scoring-service benchmark: a GBDT on Bank Marketing (with its features) behind `seer serve`,
measured with the shared load generator (../shared/bench/serving_load.py): single-record latency
p50/p99 over one connection, requests/s with 8 concurrent clients, resident memory, start-up time.

    .venv/bin/python bench/serving.py [--mlflow-python /path/to/venv/bin/python]

With --mlflow-python (a virtualenv that has mlflow, lightgbm, scikit-learn and pandas), the
anchor — `mlflow models serve` on a one-hot + LightGBM pipeline of the same data, trained by
../shared/bench/serving_train.py — is measured in the same run, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
BANK = SHARED / "data" / "bank_marketing" / "bank-full.csv"
LOAD = SHARED / "bench" / "serving_load.py"

from engine.flow import parse_flow, prepare_flow  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.workspace import Workspace  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(url, timeout=0.2)
            return time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.01)
    raise RuntimeError("server did not start")


def load(url: str, kind: str, requests: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(LOAD), url, kind, str(requests)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {k: float(v) for k, v in (part.split("=") for part in out.split())}


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return (
        proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    ) / 2**20


def bank_workspace(root: Path) -> tuple[Workspace, Any, list[dict]]:
    """A workspace with the Bank Marketing GBDT published as "bank"; returns it, the run result
    and 1,000 request records."""
    ws = Workspace(root / "ws")
    flow = {
        "seer_flow": 1,
        "name": "bank-serving",
        "nodes": [
            {"id": "bank", "op": "import.csv", "params": {"path": str(BANK), "delimiter": ";"}},
            {"id": "clean", "op": "clean.select", "params": {"drop": ["duration"]}},
            {"id": "gbdt", "op": "train.gbdt", "params": {"label": "y", "positive": "yes"}},
            {"id": "publish", "op": "publish", "params": {"name": "bank"}},
        ],
        "links": [
            {"from": {"node": "bank", "port": "out"}, "to": {"node": "clean", "port": "in"}},
            {"from": {"node": "clean", "port": "out"}, "to": {"node": "gbdt", "port": "train"}},
            {"from": {"node": "gbdt", "port": "model"}, "to": {"node": "publish", "port": "model"}},
        ],
    }
    result = Runner(ws).run(prepare_flow(parse_flow(json.dumps(flow))))
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    import csv

    with BANK.open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))[:1000]
    ints = {"age", "balance", "day", "campaign", "pdays", "previous"}
    records = [
        {k: (int(v) if k in ints else v) for k, v in r.items() if k not in ("y", "duration")}
        for r in rows
    ]
    return ws, result, records


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlflow-python")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="seer-serving-"))
    ws, _, records = bank_workspace(root)
    requests = root / "requests.json"
    requests.write_text(json.dumps(records))

    out = {}
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "seer"),
            "serve",
            "--workspace",
            str(ws.root),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        figures = load(f"http://127.0.0.1:{port}/v1/models/bank:predict", "instances", requests)
        out["seer"] = {**figures, "ready_s": round(ready, 2), "rss_mb": round(rss_mb(proc.pid), 1)}
    finally:
        proc.terminate()
        proc.wait(10)

    if args.mlflow_python:
        model_dir = root / "mlflow_model"
        subprocess.run(
            [
                args.mlflow_python,
                str(SHARED / "bench" / "serving_train.py"),
                str(BANK),
                str(model_dir),
            ],
            check=True,
            capture_output=True,
        )
        mport = free_port()
        mlflow_bin = str(Path(args.mlflow_python).parent / "mlflow")
        # mlflow starts `uvicorn` by name: its virtualenv's bin folder must be on PATH
        env = {
            **os.environ,
            "PATH": f"{Path(args.mlflow_python).parent}:{os.environ.get('PATH', '')}",
        }
        mproc = subprocess.Popen(
            [
                mlflow_bin,
                "models",
                "serve",
                "-m",
                str(model_dir),
                "--env-manager",
                "local",
                "-p",
                str(mport),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            ready = wait_ready(f"http://127.0.0.1:{mport}/ping", mproc, timeout=300)
            mreq = model_dir.parent / "requests.json"
            figures = load(f"http://127.0.0.1:{mport}/invocations", "mlflow", mreq)
            out["mlflow"] = {
                **figures,
                "ready_s": round(ready, 2),
                "rss_mb": round(rss_mb(mproc.pid), 1),
            }
        finally:
            if mproc.poll() is None:
                for p in psutil.Process(mproc.pid).children(recursive=True):
                    p.terminate()
                mproc.terminate()
                mproc.wait(10)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
