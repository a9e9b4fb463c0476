"""Shadow traffic's cost on the scoring path: the Bank Marketing GBDT behind `seer serve`, with
and without a shadow version mirroring every request (the same model published again as version
2), measured with the shared load generator in alternating rounds in one run.

    .venv/bin/python bench/shadow.py [--rounds 3]

Prints p50/p99 of single-record requests and requests/s with 8 clients, off and on (medians of
the rounds), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the shared Bank Marketing file is read in place: its folder is a data root of the flow
os.environ.setdefault(
    "SEER_DATA_ROOTS", str(Path(__file__).resolve().parents[2] / "shared" / "data")
)

from serving import bank_workspace, free_port, load, wait_ready  # noqa: E402

from engine.model_registry import ModelRegistry  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, result, records = bank_workspace(Path(tmp))
        registry = ModelRegistry(ws)
        registry.publish(result.nodes["gbdt"].outputs["model"]["path"], "bank")  # version 2
        requests = Path(tmp) / "requests.json"
        requests.write_text(json.dumps(records))
        port = free_port()
        exe = Path(sys.executable).parent / "seer"
        proc = subprocess.Popen(
            [str(exe), "serve", "--workspace", str(ws.root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{url}/healthz", proc)
            runs: dict[str, list[dict]] = {"off": [], "on": []}
            for _ in range(args.rounds):
                for mode in ("off", "on"):
                    registry.shadow("bank", 2 if mode == "on" else None)
                    time.sleep(1.5)  # the service picks the route up
                    runs[mode].append(load(f"{url}/v1/models/bank:predict", "instances", requests))
        finally:
            proc.terminate()
            proc.wait(10)
    med = {
        mode: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for mode, rs in runs.items()
    }
    ratios = {k: round(med["on"][k] / med["off"][k], 3) for k in med["off"]}
    print(json.dumps({"off": med["off"], "on": med["on"], "on/off": ratios}, indent=2))


if __name__ == "__main__":
    main()
