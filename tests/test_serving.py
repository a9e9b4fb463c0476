"""Publishing and the scoring service, over real HTTP against `seer serve` in its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from .conftest import run_flow, write_flow

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FEATURES = [
    {"kind": "bucket", "column": "age", "buckets": 8},
    {"kind": "continuous", "column": "income", "transform": ["clip", "log1p", "standardize"]},
    {"kind": "bucket", "column": "credit_score", "buckets": 8},
    {"kind": "discrete", "column": "loan_purpose"},
    {"kind": "discrete", "column": "region", "min_count": 20},
    {
        "kind": "combine",
        "of": [{"kind": "discrete", "column": "channel"}, {"kind": "discrete", "column": "region"}],
    },
    {"kind": "datetime", "column": "application_date", "parts": ["month"]},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(ws: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).parent / "seer"
    proc = subprocess.Popen(
        [str(exe), "serve", "--workspace", str(ws), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the service did not start: {proc.stderr.read() if proc.stderr else ''}")


@pytest.fixture(scope="module")
def published(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("serving")
    ws = Workspace(folder / "ws")
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 8000, "seed": 21}},
        {"id": "split", "op": "split", "params": {"ratio": 0.75}},
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
        {"id": "score_lr", "op": "predict", "params": {}},
        {"id": "score_gbdt", "op": "predict", "params": {}},
        {"id": "pub_lr", "op": "publish", "params": {"name": "risk-lr"}},
        {"id": "pub_gbdt", "op": "publish", "params": {"name": "risk-gbdt"}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "fx.train"),
        ("fx.train", "lr.train"),
        ("split.train", "gbdt.train"),
        ("lr.model", "score_lr.model"),
        ("split.test", "score_lr.data"),
        ("gbdt.model", "score_gbdt.model"),
        ("split.test", "score_gbdt.data"),
        ("lr.model", "pub_lr.model"),
        ("gbdt.model", "pub_gbdt.model"),
    ]
    result = run_flow(write_flow(folder, nodes, links, name="serve"), ws)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    proc, url = start_service(ws.root)
    yield result, ws, url
    proc.terminate()
    proc.wait(10)


def rows_of(result, node: str) -> list[dict]:
    return pq.read_table(result.nodes[node].outputs["out"]["path"]).to_pylist()


def as_request(row: dict) -> dict:
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in row.items()
        if k not in ("score", "prediction", "default")
    }


@pytest.mark.parametrize(("model", "node"), [("risk-lr", "score_lr"), ("risk-gbdt", "score_gbdt")])
def test_online_scores_equal_offline_predict(published, model: str, node: str) -> None:
    result, _, url = published
    offline = rows_of(result, node)
    assert len(offline) > 1500
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(0, len(offline), 500):
            chunk = offline[i : i + 500]
            resp = client.post(
                f"/v1/models/{model}:predict", json={"instances": [as_request(r) for r in chunk]}
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert body["model"] == model and body["version"] == 1 and body["request_id"]
            for r, p in zip(chunk, body["predictions"], strict=True):
                assert abs(p["score"] - r["score"]) < 1e-9
                assert p["prediction"] == r["prediction"]
                assert p["id"].startswith(body["request_id"] + "/")
        one = client.post(
            f"/v1/models/{model}:predict?explain=true",
            json={"dataframe_records": [as_request(offline[0])]},
        ).json()
        assert (
            one["predictions"][0]["reasons"]
            and "contribution" in one["predictions"][0]["reasons"][0]
        )


def test_bad_requests_get_clear_errors_and_the_worker_lives(published) -> None:
    result, _, url = published
    good = as_request(rows_of(result, "score_gbdt")[0])
    with httpx.Client(base_url=url, timeout=10) as c:

        def post(body, path="/v1/models/risk-gbdt:predict", raw=None):
            return c.post(path, content=raw) if raw is not None else c.post(path, json=body)

        missing = {k: v for k, v in good.items() if k != "income"}
        r = post({"instances": [good, missing]})
        assert r.status_code == 422 and "instances[1] has no field 'income'" in r.json()["error"]
        r = post({"instances": [{**good, "age": "old"}]})
        assert r.status_code == 422 and "instances[0].age must be a number" in r.json()["error"]
        r = post(None, raw=b'{"instances": [{"age": NaN}]}')
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        assert post({"instances": []}).status_code == 400
        assert post({"rows": [good]}).status_code == 400
        r = post({"instances": [good] * 1001})
        assert r.status_code == 413 and "at most 1000" in r.json()["error"]
        assert post({"instances": [good]}, "/v1/models/nope:predict").status_code == 404
        assert (
            post({"instances": [good]}, "/v1/models/risk-gbdt/versions/9:predict").status_code
            == 404
        )
        assert (
            post({"instances": [{**good, "extra": 1, "income": None}]}).status_code == 200
        )  # extra ignored, null missing
        lr = as_request(rows_of(result, "score_lr")[0])
        for bad_date in ("not a date", "2024-13-45", 20240101):
            r = post(
                {"instances": [{**lr, "application_date": bad_date}]}, "/v1/models/risk-lr:predict"
            )
            assert r.status_code == 422, r.text
            assert "instances[0].application_date must be a date" in r.json()["error"]
        assert c.get("/healthz").json()["status"] == "ok"
        spec = c.get("/openapi.json").json()
        assert "/v1/models/risk-gbdt:predict" in spec["paths"]
        metrics = c.get("/metrics").text
        assert 'seer_requests_total{model="risk-gbdt",version="1",status="200"}' in metrics
        assert 'status="422"' in metrics and "seer_request_log_dropped_total 0" in metrics


def test_publish_promote_canary_rollback_without_restart(published, tmp_path: Path) -> None:
    result, ws, url = published
    from engine.model_registry import ModelRegistry

    registry = ModelRegistry(ws)
    bundle = result.nodes["gbdt"].outputs["model"]["path"]
    v2 = registry.publish(bundle, "risk-gbdt")
    assert v2 == 2 and registry.show("risk-gbdt")["versions"][1]["stage"] == "staging"
    req = {"instances": [as_request(rows_of(result, "score_gbdt")[0])]}

    def version_served() -> int:
        return httpx.post(f"{url}/v1/models/risk-gbdt:predict", json=req).json()["version"]

    def wait_for(expected: int) -> None:
        for _ in range(50):
            if version_served() == expected:
                return
            time.sleep(0.1)
        raise AssertionError(f"the service did not switch to version {expected}")

    assert version_served() == 1
    registry.promote("risk-gbdt", 2)
    wait_for(2)
    assert registry.publish(bundle, "risk-gbdt") == 3  # a canary goes to a staging version
    registry.canary("risk-gbdt", 3, 50)
    time.sleep(1.2)
    seen = {version_served() for _ in range(60)}
    assert seen == {2, 3}
    registry.canary("risk-gbdt", 3, 0)
    assert registry.rollback("risk-gbdt") == 1
    wait_for(1)
    cli = subprocess.run(
        [
            str(Path(sys.executable).parent / "seer"),
            "models",
            "show",
            "risk-gbdt",
            "--json",
            "--workspace",
            str(ws.root),
        ],
        capture_output=True,
        text=True,
    )
    doc = json.loads(cli.stdout)
    assert doc["production"] == 1 and [v["stage"] for v in doc["versions"]] == [
        "production",
        "archived",
        "staging",
    ]


def test_feedback_is_logged_next_to_the_predictions(published) -> None:
    result, ws, url = published
    req = {"instances": [as_request(r) for r in rows_of(result, "score_lr")[:3]]}
    body = httpx.post(f"{url}/v1/models/risk-lr:predict", json=req).json()
    pid = body["predictions"][2]["id"]
    r = httpx.post(f"{url}/v1/models/risk-lr:feedback", json={"id": pid, "label": 1})
    assert r.status_code == 200
    assert httpx.post(f"{url}/v1/models/risk-lr:feedback", json={"label": 1}).status_code == 422
    folder = ws.logs_dir / "serving" / "risk-lr"
    for _ in range(50):
        files = {p.name.split("-")[0]: p for p in folder.glob("*.jsonl")}
        if "feedback" in files and pid in files["feedback"].read_text():
            break
        time.sleep(0.1)
    logged = [json.loads(line) for line in files["predictions"].read_text().splitlines()]
    mine = [rec for rec in logged if rec["request_id"] == body["request_id"]]
    assert (
        mine
        and len(mine[0]["instances"]) == 3
        and mine[0]["predictions"][2]["score"] == body["predictions"][2]["score"]
    )
    assert json.loads(files["feedback"].read_text().splitlines()[-1])["label"] == 1


def test_api_keys_when_configured(published) -> None:
    _, ws, _ = published
    proc, url = start_service(ws.root, "--api-key", "s3cret")
    try:
        assert httpx.get(f"{url}/v1/models").status_code == 401  # the list needs a key too
        assert httpx.get(f"{url}/healthz").status_code == 200
        body = {"instances": [{}]}
        assert httpx.post(f"{url}/v1/models/risk-lr:predict", json=body).status_code == 401
        r = httpx.post(
            f"{url}/v1/models/risk-lr:predict",
            json=body,
            headers={"Authorization": "Bearer s3cret"},
        )
        assert r.status_code == 422  # past the key check, on to validation
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_scorer_loads_no_spark_pandas_or_lightgbm_package(published) -> None:
    _, ws, _ = published
    code = (
        "import sys; from engine.workspace import Workspace; from engine.serving.app import create_app; "
        f"app = create_app(Workspace({str(ws.root)!r})); "
        "assert {'risk-lr', 'risk-gbdt'} <= set(app.state.host.routes), app.state.host.routes; "
        "bad = [m for m in ('pyspark', 'pandas', 'pyarrow', 'lightgbm', 'sklearn', 'scipy') if m in sys.modules]; "
        "assert not bad, bad; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_closed_loop_serving_log_and_registered_model(published, tmp_path: Path) -> None:
    """Logged predictions with feedback come back as a labeled table; a registered model scores a batch."""
    result, ws, url = published
    rows = rows_of(result, "score_lr")[:20]
    body = httpx.post(
        f"{url}/v1/models/risk-lr:predict", json={"instances": [as_request(r) for r in rows]}
    ).json()
    for p, r in zip(body["predictions"][:10], rows[:10], strict=True):
        httpx.post(f"{url}/v1/models/risk-lr:feedback", json={"id": p["id"], "label": r["default"]})
    time.sleep(0.5)  # the log is written off the hot path
    nodes = [
        {"id": "log", "op": "import.serving_log", "params": {"model": "risk-lr"}},
        {"id": "model", "op": "model.load", "params": {"name": "risk-lr"}},
        {"id": "rescore", "op": "predict", "params": {}},
    ]
    again = run_flow(
        write_flow(
            tmp_path, nodes, [("model.model", "rescore.model"), ("log.out", "rescore.data")]
        ),
        ws,
    )
    assert again.status == "succeeded", {k: v.error for k, v in again.nodes.items() if v.error}
    table = pq.read_table(again.nodes["rescore"].outputs["out"]["path"]).to_pylist()
    mine = [t for t in table if t["prediction_id"].startswith(body["request_id"])]
    assert len(mine) == 10 and all(t["label"] is not None for t in mine)
    # batch scoring with the registered model gives the score the service logged
    logged = {p["id"]: p["score"] for p in body["predictions"]}
    for t in mine:
        assert abs(logged[t["prediction_id"]] - t["score"]) < 1e-9
