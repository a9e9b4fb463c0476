"""The v1 route before and after a change, side by side in one run, and the other protocols.

    SEER_DATA_ROOTS=../shared/data .venv/bin/python bench/serving_protocols.py [--before main] [--rounds 3]

The Bank Marketing GBDT of bench/serving.py is served by `seer serve` from the code of
--before (a git ref, extracted with `git archive`) and from this tree, alternately, ROUNDS
times each; every round runs ../shared/bench/serving_load.py on the v1 route (1,000 sequential
single-record requests over one connection, then 8 clients x 250). This tree's service is also
measured on the Open Inference Protocol v2 route and MLflow's /invocations (bench/protocol_load.py).
Medians over the rounds are printed with the after/before ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from serving import LOAD, ROOT, bank_workspace, free_port, wait_ready  # noqa: E402


def serve(code: Path, ws: Path, port: int) -> subprocess.Popen:
    """`seer serve` with the engine of ``code`` (run from a neutral folder so nothing else
    on sys.path shadows it)."""
    entry = "seer_cli.main" if (code / "seer_cli").is_dir() else "studio.cli"  # older trees
    launch = f"import sys; from {entry} import main; sys.exit(main(sys.argv[1:]))"
    args = ["serve", "--workspace", str(ws), "--port", str(port), "--mlflow-model", "bank"]
    if code != ROOT:
        args = args[:-2]  # the code before may not know --mlflow-model
    return subprocess.Popen(
        [sys.executable, "-c", launch, *args],
        cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": str(code)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def measure(script: Path, url: str, kind: str, *files: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(script), url, kind, *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {k: float(v) for k, v in (part.split("=") for part in out.split())}


def one_round(code: Path, ws: Path, requests: Path, others: bool) -> dict[str, dict]:
    port = free_port()
    proc = serve(code, ws, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthz", proc)
        out = {"v1": measure(LOAD, f"{base}/v1/models/bank:predict", "instances", requests)}
        if others:
            meta = requests.parent / "metadata.json"
            meta.write_text(httpx.get(f"{base}/v2/models/bank").text)
            load = HERE / "protocol_load.py"
            out["v2"] = measure(load, f"{base}/v2/models/bank/infer", "v2", requests, meta)
            out["mlflow"] = measure(load, f"{base}/invocations", "mlflow", requests)
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="main")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="seer-protocols-"))
    before = root / "before"
    before.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.before], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
    ws, _, records = bank_workspace(root)
    requests = root / "requests.json"
    requests.write_text(json.dumps(records))
    runs: dict[str, list[dict]] = {
        "before v1": [],
        "after v1": [],
        "after v2": [],
        "after mlflow": [],
    }
    for _ in range(args.rounds):
        runs["before v1"].append(one_round(before, ws.root, requests, False)["v1"])
        after = one_round(ROOT, ws.root, requests, True)
        for proto, figures in after.items():
            runs[f"after {proto}"].append(figures)
    medians = {
        name: {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        for name, rounds in runs.items()
    }
    b, a = medians["before v1"], medians["after v1"]
    medians["v1 after/before"] = {k: round(a[k] / b[k], 3) for k in b}
    print(json.dumps({"rounds": args.rounds, "before": args.before, **medians}, indent=1))


if __name__ == "__main__":
    main()
