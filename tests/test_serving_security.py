"""A scoring service that stays up: one client cannot stall, bloat, flood or fool it.

Everything here goes through the real `seer serve` process (uvicorn on a free port) with a real
HTTP client, or through the real `seer` command.
"""

from __future__ import annotations

import json
import os
import random
import resource
import select
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow.parquet as pq
import pytest

from .conftest import run_flow, seer_cli, write_flow
from .test_serving import as_request, free_port, start_service

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory) -> dict[str, Any]:
    """One GBDT model trained once for the module; tests publish it into their own workspaces."""
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("trained")
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 3000, "seed": 5}},
        {
            "id": "gbdt",
            "op": "train.gbdt",
            "params": {
                "label": "default",
                "tune_budget": 1,
                "exclude": ["customer_id", "application_date"],
            },
        },
        {"id": "score", "op": "predict", "params": {}},
    ]
    links = [("gen.out", "gbdt.train"), ("gbdt.model", "score.model"), ("gen.out", "score.data")]
    result = run_flow(write_flow(folder, nodes, links, name="t"), Workspace(folder / "ws"))
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    rows = pq.read_table(result.nodes["score"].outputs["out"]["path"]).to_pylist()
    return {
        "bundle": result.nodes["gbdt"].outputs["model"]["path"],
        "rows": [as_request(r) for r in rows[:1000]],
        "folder": folder,
    }


def new_workspace(trained: dict[str, Any], name: str, models: tuple[str, ...] = ("risk",)) -> Any:
    from engine.model_registry import ModelRegistry
    from engine.workspace import Workspace

    ws = Workspace(trained["folder"] / name)
    registry = ModelRegistry(ws)
    for model in models:
        registry.publish(trained["bundle"], model)
    return ws


@pytest.fixture(scope="module")
def service(trained):
    """A workspace with models "risk" and "risk-b" and a service on it (no API keys)."""
    ws = new_workspace(trained, "ws-main", ("risk", "risk-b"))
    proc, url = start_service(ws.root)
    yield ws, url
    proc.terminate()
    proc.wait(10)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# -- 1. large batches and explanations run off the event loop -------------------------------------
_SENDERS = """
import sys, threading, httpx
url, body = sys.argv[1], open(sys.argv[2], "rb").read()
clients, rounds = int(sys.argv[3]), int(sys.argv[4])
codes = []
def send():
    with httpx.Client(base_url=url, timeout=120) as c:
        for _ in range(rounds):
            r = c.post("/v1/models/risk:predict?explain=true", content=body,
                       headers={"Content-Type": "application/json"})
            ok = r.status_code == 200 and len(r.json()["predictions"][999]["reasons"]) > 0
            busy = r.status_code == 503 and r.headers["retry-after"] == "1"
            codes.append(r.status_code if ok or busy else -r.status_code)
threads = [threading.Thread(target=send) for _ in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
print(" ".join(map(str, codes)))
"""


def test_healthz_answers_fast_while_large_explain_batches_run(
    service, trained, tmp_path: Path
) -> None:
    _, url = service
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"instances": trained["rows"][:1000]}))
    # the batches come from another process, so the probe below measures the service alone
    senders = subprocess.Popen(
        [sys.executable, "-c", _SENDERS, url, str(batch), "4", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    probes: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as c:
        c.get("/healthz")  # connect first: the probe measures the service, not the handshake
        time.sleep(0.3)
        while senders.poll() is None:
            t0 = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            probes.append(time.perf_counter() - t0)
            time.sleep(0.02)
    codes = [int(c) for c in senders.stdout.read().split()]
    assert len(probes) >= 10, "the batches finished before the probe could measure anything"
    probes.sort()
    p95, slowest = probes[int(len(probes) * 0.95)], probes[-1]
    # Before, each explained batch held the event loop for seconds. The bound is on the 95th
    # percentile: on a shared 2-core machine the OS alone delays an idle process's answers now
    # and then by ~100 ms.
    assert p95 < 0.1 and slowest < 1.0, (
        f"/healthz p95 {p95 * 1e3:.0f} ms, max {slowest * 1e3:.0f} ms"
    )
    assert codes.count(200) >= 2 and set(codes) <= {200, 503}, codes


def test_large_batches_beyond_the_bound_get_503_with_retry_after(
    service, trained, tmp_path
) -> None:
    ws, _ = service
    proc, url = start_service(ws.root, "--batch-threads", "1", "--batch-queue", "0")
    try:
        batch = tmp_path / "batch.json"
        batch.write_text(json.dumps({"instances": trained["rows"][:1000]}))
        out = subprocess.run(
            [sys.executable, "-c", _SENDERS, url, str(batch), "3", "1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        codes = sorted(int(c) for c in out.stdout.split())
        assert codes[0] == 200 and 503 in codes, codes  # Retry-After: 1 checked by the sender
        body = {"instances": trained["rows"][:1]}  # small requests are never refused
        assert httpx.post(f"{url}/v1/models/risk:predict", json=body).status_code == 200
        assert "seer_busy_rejections_total 0" not in httpx.get(f"{url}/metrics").text
    finally:
        stop(proc)


# -- 2. /metrics: bounded labels, escaped ------------------------------------------------------
def test_metrics_stay_small_and_parseable_whatever_names_clients_send(service, trained) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    _, url = service
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + '"\\{}=,# \n\t%'
    hostile = ['a"}\nfake_metric 1', 'x\\"} 1\n# TYPE fake_metric counter\nfake_metric{a="b"} 2']
    names = hostile + ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(5100)]
    body = {"instances": [trained["rows"][0]]}

    def send(part: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            for name in part:
                r = c.post(f"/v1/models/{quote(name, safe='')}:predict", json=body)
                assert r.status_code in (404, 405), (name, r.status_code)

    threads = [threading.Thread(target=send, args=(names[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    httpx.post(f"{url}/v1/models/risk:predict", json=body).raise_for_status()
    text = httpx.get(f"{url}/metrics").text
    assert len(text) < 20_000, f"/metrics grew to {len(text):,} bytes"
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "fake_metric" not in families and "fake" not in text
    models = {
        s.labels["model"] for f in families.values() for s in f.samples if "model" in s.labels
    }
    assert models == {"risk", "_unknown"}
    unknown = [
        s.value
        for s in families["seer_requests"].samples
        if s.labels.get("model") == "_unknown" and s.name == "seer_requests_total"
    ]
    assert sum(unknown) >= 5000


# -- 3. body limit, extra fields ---------------------------------------------------------------
def _chunked_upload(url: str, path: str, total: int) -> tuple[int, int]:
    """Stream a chunked body of up to ``total`` bytes; stop as soon as the service answers.
    Returns (status, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b'{"instances": [' + b" " * (64 * 1024)
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while sent < total and not select.select([s], [], [], 0)[0]:
            try:
                s.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n" not in answer:
            answer += s.recv(4096)
    return int(answer.split(b" ")[1]), sent


def test_body_limit_and_only_model_inputs_are_logged(service, trained) -> None:
    ws, _ = service
    proc, url = start_service(ws.root, "--max-body-mb", "1")
    try:
        row = trained["rows"][0]
        r = httpx.post(
            f"{url}/v1/models/risk:predict", json={"instances": [row], "pad": "x" * 2**21}
        )
        assert r.status_code == 413 and "over the limit of 1 MiB" in r.json()["error"]
        status, sent = _chunked_upload(url, "/v1/models/risk:predict", 200 * 2**20)
        # refused long before the 200 MB were sent (what is counted includes socket buffers)
        assert status == 413 and sent < 16 * 2**20, f"took {sent:,} bytes before refusing"
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
        extra = {**row, "card_number": "4111 1111 1111 1111", "note": {"nested": [1, 2]}}
        body = httpx.post(f"{url}/v1/models/risk:predict", json={"instances": [extra]}).json()
        inputs = {
            c["name"] for c in httpx.get(f"{url}/v1/models/risk").json()["production"]["inputs"]
        }
    finally:
        stop(proc)  # a clean stop writes the queued log records
    logged = [
        json.loads(line)
        for path in (ws.logs_dir / "serving" / "risk").glob("predictions-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    mine = [rec for rec in logged if rec["request_id"] == body["request_id"]]
    assert len(mine) == 1 and set(mine[0]["instances"][0]) == inputs
    assert "card_number" not in json.dumps(logged)


# -- 4. the request log survives a full disk ---------------------------------------------------
def _file_size_limit(limit: int):  # noqa: ANN202 - a preexec_fn
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_request_log_survives_write_errors_and_resumes(trained) -> None:
    ws = new_workspace(trained, "ws-disk")
    with sqlite3.connect(ws.root / "seer.db") as db:  # the service's own writes stay small
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "seer"),
            "serve",
            "--workspace",
            str(ws.root),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_file_size_limit(300_000),
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        batch = {"instances": trained["rows"][:500]}  # ~100 kB per logged record
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(6):
                assert c.post("/v1/models/risk:predict", json=batch).status_code == 200
            health = {}
            for _ in range(50):
                health = c.get("/healthz").json()
                if health["status"] == "degraded":
                    break
                time.sleep(0.1)
            assert health["status"] == "degraded" and "File too large" in health["reason"]
            metrics = c.get("/metrics").text
            assert "seer_request_log_degraded 1" in metrics
            dropped = health["request_log"]["dropped"]
            assert dropped >= 1
            # requests are never blocked meanwhile
            t0 = time.perf_counter()
            assert c.post("/v1/models/risk:predict", json=batch).status_code == 200
            assert time.perf_counter() - t0 < 1.0
            # rotate the log as logrotate would: the service starts a new file and resumes
            folder = ws.logs_dir / "serving" / "risk"
            (current,) = folder.glob("predictions-*.jsonl")
            rotated = current.with_suffix(".jsonl.1")
            current.rename(rotated)
            small = c.post("/v1/models/risk:predict", json={"instances": batch["instances"][:1]})
            for _ in range(50):
                health = c.get("/healthz").json()
                if health["status"] == "ok":
                    break
                c.post("/v1/models/risk:predict", json={"instances": batch["instances"][:1]})
                time.sleep(0.1)
            assert health["status"] == "ok", health
            assert "seer_request_log_degraded 0" in c.get("/metrics").text
    finally:
        stop(proc)
    old = [json.loads(line) for line in rotated.read_text().splitlines()]  # no half-written line
    assert 1 <= len(old) <= 3
    new = [json.loads(line) for line in current.read_text().splitlines()]
    assert small.json()["request_id"] in {rec["request_id"] for rec in new}
    # uvicorn shuts down cleanly on SIGTERM, then exits by re-raising it
    assert proc.returncode in (0, -signal.SIGTERM), proc.stderr.read() if proc.stderr else ""


# -- 5. feedback only for this service's predictions, with a real label, as JSON ----------------
def test_feedback_accepts_only_issued_ids_and_real_labels(service, trained) -> None:
    ws, url = service
    body = httpx.post(
        f"{url}/v1/models/risk:predict", json={"instances": trained["rows"][:2]}
    ).json()
    pid = body["predictions"][1]["id"]
    request_id = body["request_id"]

    def fb(payload: Any, model: str = "risk", **kw: Any) -> httpx.Response:
        return httpx.post(f"{url}/v1/models/{model}:feedback", json=payload, **kw)

    assert fb({"id": pid, "label": 1}).status_code == 200
    assert fb({"id": pid, "label": True}).status_code == 200
    for label in ("yes", 0.5, 1e30, None, [1], 2):
        r = fb({"id": pid, "label": label})
        assert r.status_code == 422 and "label values of risk" in r.json()["error"], label
    forged = request_id[:-1] + ("0" if request_id[-1] != "0" else "1")
    for bad in (f"{forged}/1", f"{request_id}/2", "0" * 32 + ".1.abc/0"):
        r = fb({"id": bad, "label": 1})
        assert r.status_code in (404, 422), bad
        assert "prediction id" in r.json()["error"] or "No prediction" in r.json()["error"]
    r = fb({"id": pid, "label": 1}, model="risk-b")  # an id of another model
    assert r.status_code == 404 and 'made by model "risk-b"' in r.json()["error"]
    r = httpx.post(
        f"{url}/v1/models/risk:feedback",
        content=json.dumps({"id": pid, "label": 1}),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = httpx.post(f"{url}/v1/models/risk:feedback", data={"id": pid, "label": "1"})
    assert r.status_code == 415
    # ids survive a restart: another service process on the same workspace accepts them
    proc, other = start_service(ws.root)
    try:
        r = httpx.post(f"{other}/v1/models/risk:feedback", json={"id": pid, "label": 0})
        assert r.status_code == 200
    finally:
        stop(proc)
    assert oct((ws.root / "serving.key").stat().st_mode & 0o777) == "0o600"


# -- 6. API keys per model, with scopes ----------------------------------------------------------
def test_api_keys_per_model_with_scopes(trained) -> None:
    ws = new_workspace(trained, "ws-keys", ("risk", "risk-b"))
    w = ("--workspace", str(ws.root))

    def create(*args: str) -> str:
        out = seer_cli("keys", "create", *args, *w)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    scorer = create("--model", "risk", "--scope", "score", "--name", "web")
    reader = create("--all", "--scope", "read,feedback")
    listed = json.loads(seer_cli("keys", "list", "--json", *w).stdout)
    assert [k["label"] for k in listed] == ["web", ""] and scorer not in json.dumps(listed)
    assert scorer not in (ws.root / "seer.db").read_bytes().decode("latin-1")
    bad = seer_cli("keys", "create", "--model", "risk", "--scope", "admin", *w)
    assert bad.returncode == 2 and "--scope takes" in bad.stderr
    risk_reader = create("--model", "risk", "--scope", "read")

    proc, url = start_service(ws.root, "--api-key", "global-s3cret")
    try:
        body = {"instances": [trained["rows"][0]]}

        def call(method: str, path: str, key: str | None, header: str = "bearer") -> int:
            headers = {}
            if key and header == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            elif key:
                headers["X-API-Key"] = key
            return httpx.request(method, url + path, json=body, headers=headers).status_code

        assert call("POST", "/v1/models/risk:predict", None) == 401
        assert call("POST", "/v1/models/risk:predict", "wrong") == 401
        assert call("POST", "/v1/models/risk:predict", scorer) == 200
        assert call("POST", "/v1/models/risk:predict", scorer, header="x-api-key") == 200
        assert call("POST", "/v1/models/risk-b:predict", scorer) == 403
        assert call("POST", "/v1/models/risk:feedback", scorer) == 403
        assert call("GET", "/v1/models/risk", scorer) == 403
        assert call("GET", "/metrics", scorer) == 403
        assert call("GET", "/metrics", None) == 401
        assert call("GET", "/metrics", reader) == 200
        assert call("GET", "/v1/models", reader) == 200
        listed_for = httpx.get(f"{url}/v1/models", headers={"X-API-Key": risk_reader}).json()
        assert [m["name"] for m in listed_for["models"]] == ["risk"]  # only what it may read
        assert call("GET", "/v1/models/risk-b", risk_reader) == 403
        assert call("POST", "/v1/models/risk:predict", reader) == 403
        assert call("POST", "/v1/models/risk-b:predict", "global-s3cret") == 200
        assert call("GET", "/healthz", None) == 200
        r = httpx.post(
            f"{url}/v1/models/risk-b:predict",
            json=body,
            headers={"Authorization": f"Bearer {scorer}"},
        )
        assert "--scope score --model risk-b" in r.json()["error"]
        key_id = listed[0]["key_id"]
        assert seer_cli("keys", "revoke", key_id, *w).returncode == 0
        for _ in range(30):
            if call("POST", "/v1/models/risk:predict", scorer) == 401:
                break
            time.sleep(0.1)
        assert call("POST", "/v1/models/risk:predict", scorer) == 401
    finally:
        stop(proc)
    listed = json.loads(seer_cli("keys", "list", "--json", *w).stdout)
    assert listed[0]["status"] == "revoked"


# -- 7. registry: rollback is a stack, canary to staging only, versions validated ---------------
def test_registry_rollback_stack_canary_stage_and_version_numbers(service, trained) -> None:
    from engine.model_registry import ModelRegistry, RegistryError

    ws, url = service
    registry = ModelRegistry(ws)
    name = "risk-b"
    assert registry.publish(trained["bundle"], name) == 2
    assert registry.publish(trained["bundle"], name) == 3
    registry.promote(name, 2)
    registry.promote(name, 3)
    with pytest.raises(RegistryError, match="is archived; a canary goes to a version in staging"):
        registry.canary(name, 1, 100)
    assert registry.rollback(name) == 2
    assert registry.rollback(name) == 1  # further back, never forward to 3
    with pytest.raises(RegistryError, match="no earlier production version"):
        registry.rollback(name)
    assert registry.route(name).production == 1
    for text in ("99999999999999999999999", "-1", "0", "9223372036854775808"):
        r = httpx.post(
            f"{url}/v1/models/{name}/versions/{text}:predict",
            json={"instances": [trained["rows"][0]]},
        )
        assert r.status_code == 404 and "version" in r.json()["error"].lower(), (text, r.text)
    for text in ("99999999999999999999999", "-1"):
        out = seer_cli("models", "promote", name, text, "--workspace", str(ws.root))
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "whole numbers from 1" in out.stderr, out.stderr
    out = seer_cli("models", "canary", name, "3", "--percent", "100", "--workspace", str(ws.root))
    assert out.returncode == 2 and "in staging" in out.stderr


# -- 8. supervised worker processes ------------------------------------------------------------
def test_killed_worker_is_restarted_and_others_keep_serving(service, trained) -> None:
    import psutil

    ws, _ = service
    proc, url = start_service(ws.root, "--workers", "2")
    try:
        parent = psutil.Process(proc.pid)

        def workers() -> list[psutil.Process]:
            return [p for p in parent.children() if "resource_tracker" not in " ".join(p.cmdline())]

        for _ in range(100):
            if len(workers()) == 2:
                break
            time.sleep(0.1)
        assert len(workers()) == 2
        body = {"instances": [trained["rows"][0]]}
        outcomes: list[tuple[float, bool]] = []
        done = threading.Event()
        clients = 4

        def client() -> None:
            with httpx.Client(
                base_url=url, timeout=5, transport=httpx.HTTPTransport(retries=0)
            ) as c:
                while not done.is_set():
                    try:
                        ok = c.post("/v1/models/risk:predict", json=body).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    outcomes.append((time.monotonic(), ok))
                    time.sleep(0.01)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        victim = workers()[0]
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(3.0)
        done.set()
        for t in threads:
            t.join()
        failed = [t for t, ok in outcomes if not ok]
        after = [ok for t, ok in outcomes if t > killed_at + 0.5]
        assert len(outcomes) > 200
        assert len(failed) <= clients, f"{len(failed)} failed requests"
        assert after and all(after)
        for _ in range(100):
            alive = [p for p in workers() if p.pid != victim.pid and p.is_running()]
            if len(alive) == 2:
                break
            time.sleep(0.1)
        assert len(alive) == 2, "the killed worker was not replaced"
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        stop(proc)
    assert os.path.exists(ws.root)


# -- 9. schemathesis: the service never contradicts its own OpenAPI description ----------------
def test_schemathesis_finds_no_server_error_or_contradiction(service, tmp_path: Path) -> None:
    _, url = service
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(Path(__file__).parent / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-6000:]
    assert "Coverage" in out.stdout and "Fuzzing" in out.stdout
