"""The same flow on a real Spark standalone cluster (a master and two workers started from the
pyspark package, on 127.0.0.1) gives exactly the metrics it gives in local mode."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import seer_cli, write_flow

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FEATURES = [
    {"kind": "bucket", "column": "age", "buckets": 8},
    {"kind": "continuous", "column": "income", "transform": ["clip", "log1p", "standardize"]},
    {"kind": "discrete", "column": "loan_purpose"},
    {
        "kind": "combine",
        "of": [{"kind": "discrete", "column": "channel"}, {"kind": "discrete", "column": "region"}],
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import pyspark

    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
    }
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    procs = []

    def start(args: list[str], log: str) -> None:
        handle = open(folder / log, "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            (
                subprocess.Popen(
                    [spark_class, *args], env=env, stdout=handle, stderr=subprocess.STDOUT
                ),
                handle,
            )
        )

    start(
        [
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(free_port()),
        ],
        "master.log",
    )
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    for i in range(2):
        start(
            [
                "org.apache.spark.deploy.worker.Worker",
                "--cores",
                "1",
                "--memory",
                "1536m",
                "--host",
                "127.0.0.1",
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(folder / f"work{i}"),
                url,
            ],
            f"worker{i}.log",
        )
    deadline = time.time() + 60
    while time.time() < deadline:
        if (folder / "master.log").read_text(errors="replace").count("Registering worker") >= 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail(
            "the standalone cluster did not start: "
            + (folder / "master.log").read_text(errors="replace")
        )
    yield url, folder
    for proc, _ in procs:
        proc.terminate()
    for proc, handle in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        handle.close()


def test_a_flow_gives_identical_metrics_on_a_cluster_and_locally(cluster, tmp_path: Path) -> None:
    url, folder = cluster
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 6000, "seed": 8}},
        {"id": "split", "op": "split", "params": {"ratio": 0.75, "stratify": "default"}},
        {
            "id": "fx",
            "op": "features.extract",
            "params": {"label": "default", "features": FEATURES},
        },
        {"id": "lr", "op": "train.hdlr", "params": {"label": "default", "tune_budget": 3}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "tune_budget": 2,
                "exclude": ["customer_id", "application_date"],
            },
        },
        {
            # LightGBM across the two executors (a barrier stage, one LightGBM machine each)
            "id": "gbdt_dist",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "engine": "spark",
                "auto_tune": False,
                "rounds": 60,
                "exclude": ["customer_id", "application_date"],
            },
        },
        {"id": "score_lr", "op": "predict", "params": {}},
        {"id": "score_gbdt", "op": "predict", "params": {}},
        {"id": "score_dist", "op": "predict", "params": {}},
        {"id": "eval", "op": "evaluate.binary", "params": {}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "fx.train"),
        ("fx.train", "lr.train"),
        ("split.train", "gbdt.train"),
        ("split.train", "gbdt_dist.train"),
        ("gbdt_dist.model", "score_dist.model"),
        ("split.test", "score_dist.data"),
        ("score_dist.out", "eval.scored"),
        ("lr.model", "score_lr.model"),
        ("split.test", "score_lr.data"),
        ("gbdt.model", "score_gbdt.model"),
        ("split.test", "score_gbdt.data"),
        ("score_lr.out", "eval.scored"),
        ("score_gbdt.out", "eval.scored"),
    ]
    flow = write_flow(tmp_path, nodes, links, name="cluster")
    env = {"SEER_DRIVER_MEMORY": "1g"}
    on_cluster = seer_cli(
        "run",
        str(flow),
        "--workspace",
        str(tmp_path / "ws-cluster"),
        "--master",
        url,
        "--json",
        env=env,
        timeout=900,
    )
    assert on_cluster.returncode == 0, on_cluster.stderr[-3000:]
    local = seer_cli(
        "run", str(flow), "--workspace", str(tmp_path / "ws-local"), "--json", env=env, timeout=900
    )
    assert local.returncode == 0, local.stderr[-3000:]
    a, b = json.loads(on_cluster.stdout), json.loads(local.stdout)
    assert {n["status"] for n in a["nodes"].values()} == {"succeeded"}
    for node in ("split", "fx", "score_lr", "score_gbdt"):
        assert a["nodes"][node]["rows"] == b["nodes"][node]["rows"]
    for node in ("lr", "gbdt", "gbdt_dist", "eval"):
        assert a["nodes"][node]["metrics"] == b["nodes"][node]["metrics"], node
    # the work really ran on the cluster: the master registered the application
    assert "Registered app seer" in (folder / "master.log").read_text(errors="replace")
