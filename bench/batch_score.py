"""`seer score` on a large file: rows/s and the peak memory of the whole process tree (the CLI,
Spark's JVM and its Python workers), sampled every 0.5 s.

    .venv/bin/python bench/batch_score.py [--rows 10000000] [--model gbdt|hdlr] [--keep DIR]

Trains a model on 20,000 generated credit_risk rows, publishes it, writes ROWS generated rows
as Parquet, then runs `seer score NAME big.parquet scored/` (a folder of Parquet part files).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.flow import parse_flow, prepare_flow  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SEER = str(Path(sys.executable).parent / "seer")


def publish(ws: Workspace, kind: str) -> None:
    params = {"label": "default", "tune_budget": 1}
    if kind == "gbdt":
        params["exclude"] = ["customer_id", "application_date"]
    flow = {
        "seer_flow": 1,
        "name": "batch-bench",
        "nodes": [
            {"id": "gen", "op": "import.sample", "params": {"rows": 20000, "seed": 3}},
            {"id": "train", "op": f"train.{kind}", "params": params},
            {"id": "pub", "op": "publish", "params": {"name": "bench"}},
        ],
        "links": [
            {"from": {"node": "gen", "port": "out"}, "to": {"node": "train", "port": "train"}},
            {"from": {"node": "train", "port": "model"}, "to": {"node": "pub", "port": "model"}},
        ],
    }
    result = Runner(ws).run(prepare_flow(parse_flow(json.dumps(flow))))
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}


def tree_rss(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--model", choices=["gbdt", "hdlr"], default="gbdt")
    ap.add_argument("--keep", help="a folder to work in (kept; reuses big.parquet if there)")
    args = ap.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="seer-batch-"))
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root / f"ws-{args.model}")
    if not (ws.models_dir / "bench").exists():
        publish(ws, args.model)
    big = root / f"big-{args.rows}.parquet"
    if not big.exists():
        subprocess.run(
            [SEER, "sample-data", "credit_risk", "--rows", str(args.rows), "--out", str(big)],
            check=True,
        )
    out = root / f"scored-{args.model}"
    cmd = [SEER, "score", "bench", str(big), str(out), "--workspace", str(ws.root)]
    peak = [0.0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    sampler.join()
    assert proc.returncode == 0, err
    figures = {
        "rows": args.rows,
        "model": args.model,
        "seconds": round(seconds, 1),
        "rows_per_s": round(args.rows / seconds),
        "peak_tree_rss_mb": round(peak[0]),
        "machine_memory_mb": round(psutil.virtual_memory().total / 2**20),
        "output_mb": round(sum(p.stat().st_size for p in out.rglob("*")) / 2**20),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
