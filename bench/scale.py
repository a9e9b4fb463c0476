"""Scale: the credit-risk models flow (sample data -> split -> features -> LR and GBDT ->
predict -> evaluate) at growing row counts, each size in a fresh `seer run` process.

    .venv/bin/python bench/scale.py [--rows 100000,1000000,10000000] [--hash-bits 20,24]
        [--out docs/scale.png]
    .venv/bin/python bench/scale.py --plot-only small.json big.json --out docs/scale.png

For each size: wall time, peak resident memory of the driver process tree (Python driver, JVM
and Spark's Python workers, sampled every 0.2 s), and per-node seconds. In local mode the
executors live in the driver's JVM, so the tree's peak is driver and executors together. The
hashed LR runs at each `--hash-bits`. Prints one JSON document and draws a log-log plot (with
matplotlib, which is not a Seer dependency: `.venv/bin/pip install matplotlib`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "sample_flows" / "credit_risk_models.flow.json"


def flow_file(folder: Path, hash_bits: int) -> Path:
    doc = json.loads(FLOW.read_text())
    doc["nodes"] = [n for n in doc["nodes"] if n["op"] != "publish"]
    doc["links"] = [lk for lk in doc["links"] if lk["to"]["node"] != "publish"]
    for n in doc["nodes"]:
        if n["op"] == "features.extract":
            n["params"]["hash_bits"] = hash_bits
    path = folder / f"scale-{hash_bits}.flow.json"
    path.write_text(json.dumps(doc))
    return path


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            total += p.memory_info().rss
    return total


def run(flow: Path, rows: int, ws: Path) -> dict:
    cmd = [sys.executable, "-m", "studio.cli", "run", str(flow), "--param", f"rows={rows}"]
    cmd += ["--workspace", str(ws), "--json", "--force", "applications"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                peak = max(peak, tree_rss(ps))
            except psutil.Error:
                return
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    stop.set()
    seconds = time.perf_counter() - t0
    doc = json.loads(out) if out else {"status": "no output", "nodes": {}}
    return {
        "rows": rows,
        "status": doc["status"],
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 2**20),
        "nodes": {k: v["seconds"] for k, v in doc["nodes"].items()},
        "auc": {
            k: v["metrics"].get("by_input") or v["metrics"].get("auc")
            for k, v in doc["nodes"].items()
            if k == "evaluate"
        },
        "errors": {k: v["error"] for k, v in doc["nodes"].items() if v.get("error")},
    }


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for bits in sorted({r["hash_bits"] for r in results}):
        rs = [r for r in results if r["hash_bits"] == bits and r["status"] == "succeeded"]
        ax[0].plot(
            [r["rows"] for r in rs],
            [r["seconds"] for r in rs],
            "o-",
            label=f"wall time, 2^{bits} LR",
        )
        ax[1].plot(
            [r["rows"] for r in rs],
            [r["peak_rss_mb"] / 1024 for r in rs],
            "o-",
            label=f"peak RSS, 2^{bits}",
        )
    rs = [r for r in results if r["status"] == "succeeded"]
    if rs:
        base = min(rs, key=lambda r: r["rows"])
        xs = sorted({r["rows"] for r in rs})
        ax[0].plot(
            xs,
            [base["seconds"] * x / base["rows"] for x in xs],
            ":",
            color="grey",
            label="linear from the smallest",
        )
    for a, title, unit in (
        (ax[0], "Wall time", "seconds"),
        (ax[1], "Peak memory (driver + executors)", "GB"),
    ):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("rows")
        a.set_ylabel(unit)
        a.set_title(title)
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100000,1000000,10000000")
    ap.add_argument("--hash-bits", default="20")
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale.png"))
    ap.add_argument(
        "--plot-only",
        nargs="+",
        metavar="RESULTS.json",
        help="draw the plot from the JSON documents of earlier runs (e.g. one per size) and stop",
    )
    args = ap.parse_args()
    if args.plot_only:
        plot([r for f in args.plot_only for r in json.loads(Path(f).read_text())], Path(args.out))
        return
    folder = Path(tempfile.mkdtemp(prefix="seer-scale-"))
    results = []
    for bits in [int(b) for b in args.hash_bits.split(",")]:
        flow = flow_file(folder, bits)
        for rows in [int(r) for r in args.rows.split(",")]:
            r = run(flow, rows, folder / f"ws-{bits}-{rows}")
            r["hash_bits"] = bits
            results.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    try:
        plot(results, Path(args.out))
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
