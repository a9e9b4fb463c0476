"""Validation speed: `analyze_flow` on the sample flows and on a large generated flow.

    .venv/bin/python bench/validation.py --repeat 20

The large flow: one sample import, then N filter nodes (each its own condition, naming real
columns), N transform.sql nodes (a grouped query each) and a split/train/predict chain per
20 nodes. The first validation in a process parses every SQL text (cold); later ones find the
parses in sqlguard's caches (warm: what the studio does on each edit). No Spark is started.
Prints the median milliseconds of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.flow import analyze_flow, parse_flow  # noqa: E402
from engine.registry import load_registry  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def big_flow(n: int) -> str:
    nodes = [{"id": "data", "op": "import.sample", "params": {"rows": 1000}}]
    links = []

    def link(a: str, ap: str, b: str, bp: str) -> None:
        links.append({"from": {"node": a, "port": ap}, "to": {"node": b, "port": bp}})

    for i in range(n):
        cond = f"age > {i % 60} AND income IS NOT NULL AND loan_purpose <> 'p{i}'"
        nodes.append({"id": f"f{i}", "op": "clean.filter", "params": {"condition": cond}})
        link("data", "out", f"f{i}", "in")
        query = (
            f"SELECT loan_purpose, COUNT(*) AS n, AVG(`default`) AS rate FROM f{i} "
            f"WHERE credit_score > {500 + i} GROUP BY loan_purpose"
        )
        nodes.append({"id": f"q{i}", "op": "transform.sql", "params": {"query": query}})
        link(f"f{i}", "out", f"q{i}", "in")
        if i % 20 == 0:
            nodes += [
                {"id": f"s{i}", "op": "split"},
                {"id": f"m{i}", "op": "train.gbdt", "params": {"label": "default"}},
                {"id": f"p{i}", "op": "predict"},
            ]
            link(f"f{i}", "out", f"s{i}", "in")
            link(f"s{i}", "train", f"m{i}", "train")
            link(f"m{i}", "model", f"p{i}", "model")
            link(f"s{i}", "test", f"p{i}", "data")
    return json.dumps({"seer_flow": 1, "name": "big", "nodes": nodes, "links": links})


def timed(text: str, path: Path, repeat: int) -> tuple[float, float, int]:
    flow = parse_flow(text, path)
    t0 = time.perf_counter()
    _, problems = analyze_flow(flow)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        analyze_flow(parse_flow(text, path))
        warm.append(time.perf_counter() - t0)
    return cold * 1000, statistics.median(warm) * 1000, len(problems)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--nodes", type=int, default=200, help="filters (and as many queries)")
    args = ap.parse_args()
    load_registry()  # operator modules imported once, outside the timings
    cases = [(p.name, p.read_text(), p) for p in sorted((ROOT / "sample_flows").glob("*.json"))]
    cases.append((f"big ({args.nodes} filters + {args.nodes} queries)", big_flow(args.nodes), None))
    print(f"{'flow':48} {'cold ms':>9} {'warm ms':>9} problems")
    for name, text, path in cases:
        cold, warm, n = timed(text, path or ROOT / "big.flow.json", args.repeat)
        print(f"{name:48} {cold:9.1f} {warm:9.1f} {n:8d}")


if __name__ == "__main__":
    main()
