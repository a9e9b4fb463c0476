"""Registry changes under load: 8 clients score single records against `seer serve` without a
pause while a new version is published, promoted, given a canary and rolled back. Counts failed
requests (any non-200 answer or connection error; no retries) and reports latency percentiles
and the versions that answered.

    .venv/bin/python bench/serving_security.py [--seconds 600] [--clients 8] [--workers 1]

The model is the Bank Marketing GBDT of bench/serving.py. The registry changes happen at 30 %
(publish v2), 40 % (promote v2), 50 % (publish v3, canary v3 at 20 %) and 70 % (end the canary,
roll back to v1) of the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import bank_workspace, free_port, wait_ready  # noqa: E402
from engine.model_registry import ModelRegistry  # noqa: E402


def client(
    port: int, bodies: list[bytes], stop: threading.Event, out: dict, lock: threading.Lock
) -> None:
    lat: list[float] = []
    failed = 0
    versions: Counter[int] = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    while not stop.is_set():
        body = bodies[i % len(bodies)]
        i += 1
        t = time.perf_counter()
        try:
            conn.request(
                "POST", "/v1/models/bank:predict", body, {"Content-Type": "application/json"}
            )
            r = conn.getresponse()
            data = r.read()
            if r.status == 200:
                lat.append(time.perf_counter() - t)
                versions[json.loads(data)["version"]] += 1
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with lock:
        out["latency"] += lat
        out["failed"] += failed
        out["versions"].update(versions)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="seer-serving-sec-"))
    ws, result, records = bank_workspace(root)
    bundle = result.nodes["gbdt"].outputs["model"]["path"]
    bodies = [json.dumps({"instances": [r]}).encode() for r in records]
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "seer"),
            "serve",
            "--workspace",
            str(ws.root),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: dict = {"latency": [], "failed": 0, "versions": Counter()}
    events = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        registry = ModelRegistry(ws)
        stop, lock = threading.Event(), threading.Lock()
        threads = [
            threading.Thread(target=client, args=(port, bodies, stop, out, lock))
            for _ in range(args.clients)
        ]
        start = time.monotonic()
        for t in threads:
            t.start()

        def at(share: float, what: str, action) -> None:  # noqa: ANN001
            time.sleep(max(0.0, start + share * args.seconds - time.monotonic()))
            action()
            events.append((round(time.monotonic() - start, 1), what))

        at(0.3, "publish v2", lambda: registry.publish(bundle, "bank"))
        at(0.4, "promote v2", lambda: registry.promote("bank", 2))
        at(0.5, "publish v3", lambda: registry.publish(bundle, "bank"))
        at(0.5, "canary v3 20%", lambda: registry.canary("bank", 3, 20))
        at(0.7, "end canary", lambda: registry.canary("bank", 3, 0))
        at(0.7, "rollback", lambda: registry.rollback("bank"))
        time.sleep(max(0.0, start + args.seconds - time.monotonic()))
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(20)
    lat = sorted(out["latency"])

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1e3, 2)

    print(
        json.dumps(
            {
                "seconds": round(elapsed, 1),
                "clients": args.clients,
                "workers": args.workers,
                "requests": len(lat) + out["failed"],
                "failed": out["failed"],
                "rps": round(len(lat) / elapsed),
                "p50_ms": pct(0.5),
                "p99_ms": pct(0.99),
                "p999_ms": pct(0.999),
                "max_ms": pct(1.0),
                "versions_served": dict(sorted(out["versions"].items())),
                "events": events,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
