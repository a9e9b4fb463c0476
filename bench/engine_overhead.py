"""Engine overhead: a flow run by Seer vs the same steps hand-written in PySpark, one process.

    .venv/bin/python bench/engine_overhead.py --rows 1000000 --repeat 7

Both sides read the same generated Parquet file, split it 80/20 by a seeded row hash, compute
the default rate by loan purpose on both parts, and write the summary as one CSV file and the
test rows as a Parquet folder. Seer runs the flow as `seer run` does (keep="needed": the
split's tables go to their consumers unsaved; every other output is saved, which is what makes
reruns cached). The runs alternate in one warm SparkSession; the script prints the median
times, their ratio, Seer's per-node seconds and the time of a fully cached rerun.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.dataroots import DataRoots  # noqa: E402
from engine.flow import parse_flow, prepare_flow  # noqa: E402
from engine.runner import Runner, RunOptions  # noqa: E402
from engine.sampledata import write_sample  # noqa: E402
from engine.spark import get_spark  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

QUERY = (
    "SELECT tr.loan_purpose, tr.n, tr.rate AS train_rate, te.rate AS test_rate FROM "
    "(SELECT loan_purpose, COUNT(*) AS n, AVG(`default`) AS rate FROM split_train GROUP BY loan_purpose) tr "
    "JOIN (SELECT loan_purpose, AVG(`default`) AS rate FROM split_test GROUP BY loan_purpose) te "
    "ON tr.loan_purpose = te.loan_purpose"
)


def flow_json(data: Path, out: Path) -> str:
    nodes = [
        {"id": "load", "op": "import.parquet", "params": {"path": str(data)}},
        {"id": "split", "op": "split", "params": {"ratio": 0.8, "seed": 42}},
        {"id": "agg", "op": "transform.sql", "params": {"query": QUERY}},
        {"id": "save_summary", "op": "export.csv", "params": {"path": str(out / "summary.csv")}},
        {"id": "save_test", "op": "export.parquet", "params": {"path": str(out / "test_rows")}},
    ]
    links = [
        ("load", "out", "split", "in"),
        ("split", "train", "agg", "in"),
        ("split", "test", "agg", "in"),
        ("agg", "out", "save_summary", "in"),
        ("split", "test", "save_test", "in"),
    ]
    return json.dumps(
        {
            "seer_flow": 1,
            "name": "overhead",
            "nodes": nodes,
            "links": [
                {"from": {"node": a, "port": ap}, "to": {"node": b, "port": bp}}
                for a, ap, b, bp in links
            ],
        }
    )


def hand_written(spark, data: Path, out: Path) -> None:
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(data))
    u = F.pmod(F.xxhash64(F.lit(42), *[F.col(c) for c in df.columns]), F.lit(2**53)) / float(2**53)
    marked = df.withColumn("__u", u)
    train = marked.where("__u < 0.8").drop("__u")
    test = marked.where("__u >= 0.8").drop("__u")
    train.createOrReplaceTempView("split_train")
    test.createOrReplaceTempView("split_test")
    summary = spark.sql(QUERY)
    tmp = out / "summary_tmp"
    summary.coalesce(1).write.mode("overwrite").option("header", "true").csv(str(tmp))
    next(tmp.glob("part-*.csv")).replace(out / "summary.csv")
    shutil.rmtree(tmp)
    test.write.mode("overwrite").parquet(str(out / "test_rows"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="seer-bench-"))
    data = root / "loans.parquet"
    write_sample("credit_risk", args.rows, 1, data)
    ws = Workspace(root / "ws")
    spark = get_spark(None, ws.spark_local_dir, ws.logs_dir)
    hand_written(spark, data, root / "warmup")  # JIT warm-up for both sides
    roots = DataRoots([root])  # the flow reads and writes in the bench folder
    warm = prepare_flow(parse_flow(flow_json(data, root / "seer-warmup")), roots=roots)
    Runner(ws).run(warm, RunOptions(keep="needed"))
    seer_times, hand_times = [], []
    nodes: list[dict[str, float]] = []
    for i in range(args.repeat):
        t = time.perf_counter()
        hand_written(spark, data, root / f"hand{i}")
        hand_times.append(time.perf_counter() - t)
        prepared = prepare_flow(parse_flow(flow_json(data, root / f"seer{i}")), roots=roots)
        t = time.perf_counter()
        result = Runner(ws).run(prepared, RunOptions(force=set(prepared.order), keep="needed"))
        seer_times.append(time.perf_counter() - t)
        assert result.status == "succeeded", result.to_json()
        nodes.append({n: round(r.seconds or 0, 2) for n, r in result.nodes.items()})
    t = time.perf_counter()
    cached = Runner(ws).run(prepared, RunOptions(keep="needed"))
    cached_s = time.perf_counter() - t
    assert {n.status for n in cached.nodes.values()} == {"cached"}
    h, s = statistics.median(hand_times), statistics.median(seer_times)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "hand_written_s": round(h, 2),
                "seer_s": round(s, 2),
                "ratio": round(s / h, 2),
                "cached_rerun_s": round(cached_s, 3),
                "hand_runs": [round(x, 2) for x in hand_times],
                "seer_runs": [round(x, 2) for x in seer_times],
                "seer_node_seconds": nodes,
            },
            indent=1,
        )
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
