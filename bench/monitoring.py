"""Monitoring benchmark: what monitoring costs the scoring path, and how fast the monitoring
answer comes over a long log.

    .venv/bin/python bench/monitoring.py [--predictions 1000000] [--days 7] [--rounds 3]
        [--check-every 5]

1. A GBDT on generated credit_risk rows, published as "credit" and served by `seer serve`;
   ../shared/bench/serving_load.py (1,000 sequential single-record requests, then 8 clients ×
   250) alternately with monitoring off (the service alone) and on (a second process checks
   the model's windows and alert rules every ``--check-every`` seconds, as the scheduler
   does), ``--rounds`` rounds each; medians.
2. The same bundle published as "credit-history", with ``--predictions`` single-record
   predictions (10 % with feedback) written directly in the request log's format over the last
   ``--days`` days; `seer models monitor credit-history --since ... --json` timed cold (the
   closed windows rolled up into the store) and warm (only the open window read).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serving import free_port, load, wait_ready  # noqa: E402

from engine.flow import parse_flow, prepare_flow  # noqa: E402
from engine.model_registry import ModelRegistry  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SEER = str(Path(sys.executable).parent / "seer")
CHECKER = """
import sys, time
from engine.monitoring.alerts import evaluate
from engine.workspace import Workspace
ws = Workspace(sys.argv[1])
while True:
    evaluate(ws, "credit")
    time.sleep(float(sys.argv[2]))
"""


def credit_workspace(root: Path) -> tuple[Workspace, list[dict], Path]:
    ws = Workspace(root / "ws")
    flow = {
        "seer_flow": 1,
        "name": "credit-monitoring",
        "nodes": [
            {"id": "gen", "op": "import.sample", "params": {"rows": 20000, "seed": 4}},
            {
                "id": "gbdt",
                "op": "train.gbdt",
                "params": {"label": "default", "exclude": ["customer_id", "application_date"]},
            },
            {"id": "publish", "op": "publish", "params": {"name": "credit"}},
        ],
        "links": [
            {"from": {"node": "gen", "port": "out"}, "to": {"node": "gbdt", "port": "train"}},
            {"from": {"node": "gbdt", "port": "model"}, "to": {"node": "publish", "port": "model"}},
        ],
    }
    result = Runner(ws).run(prepare_flow(parse_flow(json.dumps(flow))))
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    import pyarrow.parquet as pq

    table = pq.read_table(result.nodes["gen"].outputs["out"]["path"]).slice(0, 1000).to_pylist()
    records = [
        {k: v for k, v in r.items() if k not in ("default", "customer_id", "application_date")}
        for r in table
    ]
    bundle = ModelRegistry(ws).path("credit", 1)
    return ws, records, bundle


def serve(ws: Workspace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [SEER, "serve", "--workspace", str(ws.root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/healthz", proc)
    return proc, url


def one_round(ws: Workspace, requests: Path, monitoring: bool, every: float) -> dict[str, float]:
    proc, url = serve(ws)
    checker = None
    try:
        if monitoring:
            checker = subprocess.Popen(
                [sys.executable, "-c", CHECKER, str(ws.root), str(every)],
                cwd=ROOT,
                stderr=subprocess.PIPE,
            )
            time.sleep(2)
        return load(f"{url}/v1/models/credit:predict", "instances", requests)
    finally:
        if checker is not None:
            checker.terminate()
            checker.wait(10)
        proc.terminate()
        proc.wait(10)


def overhead(
    ws: Workspace, records: list[dict], rounds: int, every: float
) -> dict[str, dict[str, float]]:
    requests = ws.root.parent / "requests.json"
    requests.write_text(json.dumps(records))
    figures: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for i in range(rounds):
        order = ("off", "on") if i % 2 == 0 else ("on", "off")
        for mode in order:
            figures[mode].append(one_round(ws, requests, mode == "on", every))
    return {
        mode: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for mode, runs in figures.items()
    }


def write_history(ws: Workspace, name: str, records: list[dict], n: int, days: int) -> float:
    """``n`` logged single-record predictions over the last ``days`` days (10 % with
    feedback), in the request log's own format; returns the first record's time."""
    rng = random.Random(7)
    folder = ws.logs_dir / "serving" / name
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time() - 30
    start = now - days * 86400
    step = (now - start) / n
    files: dict[str, object] = {}

    def out(kind: str, ts: float):
        day = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d")
        key = f"{kind}-{day}"
        if key not in files:
            files[key] = (folder / f"{key}.jsonl").open("ab")
        return files[key]

    for i in range(n):
        ts = start + i * step
        rid = f"{i:032x}.1.{'0' * 32}"
        inst = dict(records[i % len(records)])
        if i > n // 2:  # the second half drifts: incomes up by half
            inst["income"] = inst["income"] * 1.5 if inst["income"] is not None else None
        score = rng.random() ** 3
        rec = {
            "ts": ts,
            "request_id": rid,
            "model": name,
            "version": 1,
            "instances": [inst],
            "predictions": [{"score": score, "prediction": int(score >= 0.3)}],
            "latency_ms": round(0.3 + rng.random() * 0.4, 3),
            "status": 200,
        }
        out("predictions", ts).write(orjson.dumps(rec) + b"\n")
        if i % 10 == 0:
            label = int(rng.random() < score)
            fb = {"ts": ts + 1, "id": f"{rid}/0", "label": label}
            out("feedback", ts + 1).write(orjson.dumps(fb) + b"\n")
    for f in files.values():
        f.close()
    return start


def monitor_timing(ws: Workspace, since: float) -> dict[str, float]:
    iso = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cmd = [SEER, "models", "monitor", "credit-history", "--since", iso, "--json"]
    cmd += ["--workspace", str(ws.root)]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t)
    doc = json.loads(out)
    return {
        "cold_s": round(times[0], 2),
        "warm_s": round(min(times[1:]), 2),
        "windows": len(doc["windows"]),
        "requests": sum(w["requests"] for w in doc["windows"]),
        "labeled": sum(w["labeled"] for w in doc["windows"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--predictions", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--check-every", type=float, default=5.0, help="seconds between checks")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="seer-monitoring-"))
    ws, records, bundle = credit_workspace(root)
    out = {}
    if not args.skip_overhead:
        out["serving"] = overhead(ws, records, args.rounds, args.check_every)
    ModelRegistry(ws).publish(bundle, "credit-history")
    t = time.perf_counter()
    since = write_history(ws, "credit-history", records, args.predictions, args.days)
    out["generate_s"] = round(time.perf_counter() - t, 1)
    out["monitor"] = monitor_timing(ws, since)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
