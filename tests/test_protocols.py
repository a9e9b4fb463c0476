"""The scoring service speaks the standard protocols: each tested with the real third-party
client from PyPI against `seer serve` in its own process, and every protocol gives the same
scores as the v1 route (and as offline `predict`) on the same rows."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from .conftest import seer_cli
from .test_serving import as_request, published, rows_of, start_service  # noqa: F401

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MODELS = [("risk-lr", "score_lr"), ("risk-gbdt", "score_gbdt")]


def v1_scores(url: str, model: str, rows: list[dict]) -> list[float]:
    resp = httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": rows}, timeout=30)
    assert resp.status_code == 200, resp.text
    return [p["score"] for p in resp.json()["predictions"]]


def requests_of(published, node: str, n: int) -> list[dict]:  # noqa: F811
    result, _, _ = published
    return [as_request(r) for r in rows_of(result, node)[:n]]


def numpy_column(rows: list[dict], name: str, datatype: str) -> np.ndarray:
    values = [r[name] for r in rows]
    if datatype == "BYTES":
        return np.array([v.encode() for v in values], dtype=np.object_)
    if datatype == "INT64" and any(v is None for v in values):
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if datatype == "FP64":
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype={"INT64": np.int64, "BOOL": np.bool_}[datatype])


@pytest.mark.parametrize(("model", "node"), MODELS)
def test_triton_client_open_inference_protocol_v2(published, model: str, node: str) -> None:  # noqa: F811
    import tritonclient.http as triton

    _, _, url = published
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(model) and client.is_model_ready(model, "1")
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata(model)
    assert meta["name"] == model and meta["versions"] == ["1"]
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert types["region"] == "BYTES" and types["age"] == "INT64"
    assert {o["name"] for o in meta["outputs"]} == {"score", "prediction", "id"}

    # a BYTES tensor in binary form cannot carry a missing value: rows with a region here
    rows = [r for r in requests_of(published, node, 400) if r["region"] is not None][:300]
    for binary in (True, False):
        inputs = []
        for name, datatype in types.items():
            array = numpy_column(rows, name, datatype)
            sent = "FP64" if array.dtype == np.float64 else datatype
            tensor = triton.InferInput(name, [len(rows)], sent)
            tensor.set_data_from_numpy(array, binary_data=binary)
            inputs.append(tensor)
        result = client.infer(model, inputs)
        scores = result.as_numpy("score").tolist()
        assert (
            max(abs(a - b) for a, b in zip(scores, v1_scores(url, model, rows), strict=True)) < 1e-9
        )
        assert result.as_numpy("prediction").dtype == np.int64
        assert result.as_numpy("id")[0].decode().count("/") == 1, (
            "ids are bytes, as Triton gives them"
        )


@pytest.mark.parametrize(("model", "node"), MODELS)
def test_kserve_v2_client_with_missing_values(published, model: str, node: str) -> None:  # noqa: F811
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    _, _, url = published
    rows = requests_of(published, node, 500)
    assert any(r["region"] is None for r in rows) and any(r["income"] is None for r in rows)
    meta = httpx.get(f"{url}/v2/models/{model}").json()
    inputs = [
        InferInput(i["name"], [len(rows)], i["datatype"], [r[i["name"]] for r in rows])
        for i in meta["inputs"]
    ]

    async def go() -> tuple[Any, bool, bool, bool]:
        client = InferenceRESTClient(RESTConfig(protocol="v2"))
        live = await client.is_server_live(url)
        ready = await client.is_server_ready(url)
        model_ready = await client.is_model_ready(url, model)
        response = await client.infer(url, InferRequest(model, inputs), model_name=model)
        return response, live, ready, model_ready

    response, live, ready, model_ready = asyncio.run(go())
    assert live and ready and model_ready
    outputs = {o.name: o.data for o in response.outputs}
    assert (
        max(abs(a - b) for a, b in zip(outputs["score"], v1_scores(url, model, rows), strict=True))
        < 1e-9
    )
    assert set(outputs["prediction"]) <= {0, 1}


def test_kserve_v1_client_readiness_liveness_explain(published) -> None:  # noqa: F811
    from kserve import InferenceRESTClient, RESTConfig

    _, _, url = published
    rows = requests_of(published, "score_gbdt", 3)

    async def go() -> tuple[Any, ...]:
        client = InferenceRESTClient(RESTConfig(protocol="v1"))
        return (
            await client.is_server_live(url),
            await client.is_model_ready(url, "risk-gbdt"),
            await client.explain(url, "risk-gbdt", {"instances": rows}),
            await client.infer(url, {"instances": rows}, model_name="risk-gbdt"),
        )

    live, ready, explained, scored = asyncio.run(go())
    assert live is True and ready is True
    assert len(explained["predictions"]) == 3
    assert explained["predictions"][0]["reasons"][0]["contribution"]
    assert [p["score"] for p in explained["predictions"]] == [
        p["score"] for p in scored["predictions"]
    ]


def test_mlflow_scoring_server_client(published, tmp_path) -> None:  # noqa: F811
    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    _, ws, url = published
    proc, own = start_service(ws.root, "--mlflow-model", "risk-lr")
    try:
        rows = requests_of(published, "score_lr", 200)
        expected = v1_scores(url, "risk-lr", rows)
        host, port = own.removeprefix("http://").split(":")
        client = ScoringServerClient(host, int(port))
        client.wait_server_ready(timeout=10)
        frame = pd.DataFrame(rows)
        got = client.invoke(frame).get_predictions()
        assert max(abs(a - b) for a, b in zip(got["score"], expected, strict=True)) < 1e-9
        assert list(got.columns) == ["score", "prediction", "id"]
        _every_body_format(own, url, rows, expected)
    finally:
        proc.terminate()
        proc.wait(10)


def _every_body_format(own: str, shared: str, rows: list[dict], expected: list[float]) -> None:
    columns = list(rows[0])
    csv_lines = [",".join(columns)] + [
        ",".join("" if r[c] is None else str(r[c]) for c in columns) for r in rows
    ]
    bodies = {
        "dataframe_split": {
            "json": {
                "dataframe_split": {
                    "columns": columns,
                    "data": [[r[c] for c in columns] for r in rows],
                }
            }
        },
        "dataframe_records": {"json": {"dataframe_records": rows}},
        "instances": {"json": {"instances": rows}},
        "inputs": {"json": {"inputs": {c: [r[c] for r in rows] for c in columns}}},
        "csv": {"content": "\n".join(csv_lines), "headers": {"Content-Type": "text/csv"}},
    }
    for what, kwargs in bodies.items():
        resp = httpx.post(f"{own}/invocations", timeout=30, **kwargs)
        assert resp.status_code == 200, (what, resp.text)
        scores = [p["score"] for p in resp.json()["predictions"]]
        assert max(abs(a - b) for a, b in zip(scores, expected, strict=True)) < 1e-9, what
    # the shared service serves two models: a header says which, and without one it says how
    resp = httpx.post(f"{shared}/invocations", json={"instances": rows[:2]})
    assert resp.status_code == 400 and "X-Seer-Model" in resp.json()["message"]
    resp = httpx.post(
        f"{shared}/invocations", json={"instances": rows[:2]}, headers={"X-Seer-Model": "risk-lr"}
    )
    assert [p["score"] for p in resp.json()["predictions"]] == expected[:2]


def request_from_schema(schema: dict) -> dict:
    """What a generated client would send: for each input, a known value or one of its type."""
    row = {}
    for name, prop in schema["properties"].items():
        kind = prop["type"][0]
        if prop.get("examples"):
            row[name] = prop["examples"][0]
        elif prop.get("format") == "date":
            row[name] = "2024-05-31"
        else:
            row[name] = {"integer": 30, "number": 1.5, "boolean": True, "string": "x"}[kind]
    return row


def test_openapi_describes_each_models_inputs(published) -> None:  # noqa: F811
    _, _, url = published
    doc = httpx.get(f"{url}/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for model in ("risk-lr", "risk-gbdt"):
        schema = schemas[f"Instance.{model}"]
        body = doc["paths"][f"/v1/models/{model}:predict"]["post"]["requestBody"]
        assert f"Instance.{model}" in str(body)
        region = schema["properties"]["region"]
        assert region["type"] == ["string", "null"] and "region_01" in region["x-known-values"]
        assert set(schema["required"]) == set(schema["properties"])
        resp = httpx.post(
            f"{url}/v1/models/{model}:predict", json={"instances": [request_from_schema(schema)]}
        )
        assert resp.status_code == 200, resp.text
        assert "warnings" not in resp.json()
    for path in ("/", "/v2/health/live", "/v2/health/ready", "/ping", "/v2/models/risk-lr"):
        assert path in doc["paths"]


def test_unseen_category_is_named_with_the_known_values(published) -> None:  # noqa: F811
    _, _, url = published
    rows = requests_of(published, "score_gbdt", 3)
    rows[1]["region"] = "region_99"
    v1 = httpx.post(f"{url}/v1/models/risk-gbdt:predict", json={"instances": rows}).json()
    (warning,) = v1["warnings"]
    assert warning["field"] == "region" and warning["value"] == "region_99"
    assert warning["instances"] == [1] and "region_01" in warning["known_values"]
    assert "never seen in training" in warning["message"]
    meta = httpx.get(f"{url}/v2/models/risk-gbdt").json()
    v2 = httpx.post(
        f"{url}/v2/models/risk-gbdt/infer",
        json={
            "inputs": [
                {
                    "name": i["name"],
                    "datatype": i["datatype"],
                    "shape": [3],
                    "data": [r[i["name"]] for r in rows],
                }
                for i in meta["inputs"]
            ]
        },
    ).json()
    assert v2["parameters"]["warnings"] == v1["warnings"]
    mlflow = httpx.post(
        f"{url}/invocations", json={"instances": rows}, headers={"X-Seer-Model": "risk-gbdt"}
    ).json()
    assert mlflow["warnings"] == v1["warnings"]
    assert [p["score"] for p in mlflow["predictions"]] == [p["score"] for p in v1["predictions"]]


def test_batch_score_equals_the_service(published, tmp_path) -> None:  # noqa: F811
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from engine.batch_score import ScoreJob, run_score

    result, ws, url = published
    source = Path(result.nodes["split"].outputs["test"]["path"])
    csv_in = tmp_path / "in.csv"
    pacsv.write_csv(pq.read_table(source), csv_in)
    for model, given, out in [
        ("risk-lr", source, tmp_path / "lr.parquet"),
        ("risk-gbdt", csv_in, tmp_path / "gbdt_out"),  # a folder of CSV part files
    ]:
        fmt = "csv" if out.suffix != ".parquet" else None
        job = ScoreJob(model, given, out, output_format=fmt)
        assert run_score(ws, job).status == "succeeded"
        if fmt:
            tables = [pacsv.read_csv(p) for p in sorted(out.glob("part-*.csv"))]
            scored = [r for t in tables for r in t.to_pylist()]
        else:
            scored = pq.read_table(out).to_pylist()
        by_id = {r["customer_id"]: r for r in scored}
        offline = {r["customer_id"]: r for r in rows_of(result, "score_" + model[5:])}
        assert by_id.keys() == offline.keys() and len(by_id) > 1500
        ids = sorted(by_id)[:500]
        online = v1_scores(url, model, [as_request(offline[i]) for i in ids])
        for i, s in zip(ids, online, strict=True):
            assert abs(by_id[i]["score"] - s) < 1e-9
            assert by_id[i]["prediction"] == offline[i]["prediction"]


def test_seer_score_command_with_reasons(published, tmp_path) -> None:  # noqa: F811
    import pyarrow.csv as pacsv

    result, ws, _ = published
    source = result.nodes["split"].outputs["test"]["path"]
    out = tmp_path / "scored.csv"
    done = seer_cli(
        "score", "risk-gbdt", source, str(out), "--reasons", "--workspace", str(ws.root)
    )
    assert done.returncode == 0, done.stderr
    assert "scored 1," in done.stderr
    rows = pacsv.read_csv(out).to_pylist()
    assert {"score", "prediction", "reasons"} <= set(rows[0])
    assert json.loads(rows[0]["reasons"])[0]["contribution"]
    bad = seer_cli(
        "score", "risk-gbdt", str(tmp_path / "none.txt"), str(out), "--workspace", str(ws.root)
    )
    assert (
        bad.returncode == 2
        and "Cannot tell the format" in bad.stderr
        and "Traceback" not in bad.stderr
    )


def test_exported_folder_serves_from_a_fresh_virtualenv(published, tmp_path) -> None:  # noqa: F811
    import subprocess
    import sys

    from .test_serving import free_port

    _, ws, url = published
    out = tmp_path / "export"
    done = seer_cli("models", "export", "risk-gbdt", "--out", str(out), "--workspace", str(ws.root))
    assert done.returncode == 0, done.stderr
    for name in ("Dockerfile", "kubernetes.yaml", "healthcheck.py", "requirements.txt", "seer"):
        assert (out / name).exists(), name
    required = (out / "requirements.txt").read_text()
    for heavy in ("pyspark", "pandas", "pyarrow", "numpy", "scipy", "dash", "lightgbm"):
        assert heavy not in required.lower(), heavy
    kube = (out / "kubernetes.yaml").read_text()
    assert "/v2/health/ready" in kube and "kind: Service" in kube
    assert "HEALTHCHECK" in (out / "Dockerfile").read_text()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(out / "requirements.txt")], check=True, timeout=600)
    nodeps = [*pip, "--no-deps", "-r", str(out / "requirements-nodeps.txt")]
    subprocess.run(nodeps, check=True, timeout=600)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "python"),
            "seer",
            "serve",
            "--workspace",
            "workspace",
            "--port",
            str(port),
        ],
        cwd=out,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        own = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{own}/v2/health/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert (
            subprocess.run(
                [str(venv / "bin" / "python"), "healthcheck.py", str(port)], cwd=out
            ).returncode
            == 0
        )
        rows = requests_of(published, "score_gbdt", 100)
        assert v1_scores(own, "risk-gbdt", rows) == v1_scores(url, "risk-gbdt", rows)
        # monitoring lives where the model was published, not in the lean scorer
        resp = httpx.get(f"{own}/v1/models/risk-gbdt/monitoring")
        assert resp.status_code == 501 and "seer models monitor" in resp.json()["error"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_v2_bad_requests_get_clear_errors(published) -> None:  # noqa: F811
    _, _, url = published
    infer = f"{url}/v2/models/risk-gbdt/infer"
    age = {"name": "age", "datatype": "INT64", "shape": [2], "data": [30, 40]}
    cases = [
        ({"inputs": []}, 400, '"inputs"'),
        ({"inputs": [{**age, "shape": [3]}]}, 400, "shape [3] says 3"),
        ({"inputs": [{**age, "datatype": "FP16"}]}, 400, "datatype 'FP16'"),
        ({"inputs": [age]}, 422, "has no field"),
        ({"inputs": [age], "outputs": [{"name": "proba"}]}, 400, "Unknown output"),
    ]
    for body, status, words in cases:
        resp = httpx.post(infer, json=body)
        assert resp.status_code == status and words in resp.json()["error"], (body, resp.text)
    assert httpx.get(f"{url}/v2/models/nope").status_code == 404
    assert httpx.post(f"{url}/v2/models/nope/infer", json={"inputs": [age]}).status_code == 404
