"""Monitoring and alerts of a published model, over real HTTP against `seer serve`: drift,
live accuracy, errors, the same numbers after a restart, alerts raised once and delivered to a
webhook receiver, a dead webhook that blocks nothing."""

from __future__ import annotations

import calendar
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from .conftest import run_flow, seer_cli, write_flow
from .test_serving import as_request, free_port, start_service

MODEL = "risk"


# -- PSI, KS and live metrics against reference computations (no service) -------------------
def test_psi_matches_a_hand_computation() -> None:
    from engine.monitoring.drift import psi

    expected, actual = [0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.5, 0.0]
    by_hand = (
        (0.25 - 0.5) * np.log(0.25 / 0.5)
        + (0.25 - 0.3) * np.log(0.25 / 0.3)
        + (0.5 - 0.2) * np.log(0.5 / 0.2)
    )  # the empty bucket adds (1e-4 - 1e-4) * ln 1 = 0
    assert psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert psi(expected, expected) == 0.0


def test_binned_ks_and_psi_of_a_baseline_match_scipy() -> None:
    from scipy.stats import ks_2samp

    from engine.monitoring.drift import column_buckets, drift

    rng = np.random.default_rng(3)
    edges = np.linspace(0, 100, 21)
    mids = (edges[:-1] + edges[1:]) / 2
    train = rng.choice(mids, 5000, p=np.r_[np.full(10, 0.07), np.full(10, 0.03)])
    live = rng.choice(mids, 3000)  # uniform: drifted upwards
    counts, _ = np.histogram(train, bins=edges)
    column = {
        "name": "x",
        "count": 5000,
        "missing": 0,
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }
    buckets = column_buckets(column, 5000)
    live_counts = buckets.count([*live.tolist(), None, "n/a"])  # two missing values
    assert live_counts[-1] == 2
    d = drift(buckets, live_counts)
    # the values sit at bucket midpoints, so the bucketed KS is the exact two-sample KS
    assert d["ks"] == pytest.approx(ks_2samp(train, live).statistic, abs=1e-6)
    e = counts / counts.sum()
    a = np.r_[np.histogram(live, bins=edges)[0], 2] / (len(live) + 2)
    e = np.r_[e, 0.0]
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    assert d["psi"] == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=1e-6)


def test_categorical_buckets_are_top_values_other_and_missing() -> None:
    from engine.monitoring.drift import column_buckets

    column = {
        "name": "region",
        "count": 90,
        "missing": 10,
        "top": [{"value": "north", "count": 60}, {"value": "south", "count": 30}],
    }
    b = column_buckets(column, 100)
    assert b.labels == ("north", "south", "other", "missing")
    assert b.expected == pytest.approx((0.6, 0.3, 0.0, 0.1))
    assert b.count(["north", "east", None, "south", "west"]) == [1, 1, 2, 1]


def test_live_auc_and_ks_match_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    from engine.monitoring.live import metrics

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)  # with ties
    m = metrics(y.tolist(), s.tolist())
    fpr, tpr, _ = roc_curve(y, s)
    assert m["labeled"] == 400
    assert m["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-6)
    assert m["ks"] == pytest.approx(float(np.max(tpr - fpr)), abs=1e-6)


# -- a published model behind a real service -------------------------------------------------
class Receiver:
    """A webhook receiver: a real HTTP server in a thread, keeping what it was sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def served(spark, tmp_path_factory):
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("monitoring")
    ws = Workspace(folder / "ws")
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": 3000, "seed": 8}},
        {"id": "split", "op": "split", "params": {"ratio": 0.7}},
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
        {"id": "pub", "op": "publish", "params": {"name": MODEL}},
    ]
    links = [
        ("gen.out", "split.in"),
        ("split.train", "gbdt.train"),
        ("gbdt.model", "score.model"),
        ("split.test", "score.data"),
        ("gbdt.model", "pub.model"),
    ]
    result = run_flow(write_flow(folder, nodes, links, name="mon"), ws)
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    rows = pq.read_table(result.nodes["score"].outputs["out"]["path"]).to_pylist()
    proc, url = start_service(ws.root)
    state = {"proc": proc, "url": url}
    yield ws, rows, state
    state["proc"].terminate()
    state["proc"].wait(10)


def _traffic(url: str, rows: list[dict]) -> None:
    """Drifted traffic (incomes five times higher) with feedback whose labels are flipped (the
    model looks much worse live), plus requests the service refuses."""
    with httpx.Client(base_url=url) as client:
        for chunk in range(0, 600, 10):
            batch = [as_request(r) for r in rows[chunk : chunk + 10]]
            for inst in batch:
                inst["income"] = None if inst["income"] is None else inst["income"] * 5
            r = client.post(f"/v1/models/{MODEL}:predict", json={"instances": batch})
            assert r.status_code == 200, r.text
            for pred, row in zip(r.json()["predictions"], rows[chunk : chunk + 10], strict=True):
                label = 1 - int(row["default"])
                f = client.post(
                    f"/v1/models/{MODEL}:feedback", json={"id": pred["id"], "label": label}
                )
                assert f.status_code == 200
        for _ in range(3):
            bad = client.post(f"/v1/models/{MODEL}:predict", json={"instances": "no"})
            assert bad.status_code == 400


def _monitoring(url: str, **params) -> httpx.Response:
    return httpx.get(f"{url}/v1/models/{MODEL}/monitoring", params=params, timeout=30)


def _flushed(url: str) -> None:
    for _ in range(100):
        if httpx.get(f"{url}/healthz").json()["request_log"]["queued"] == 0:
            time.sleep(0.2)
            return
        time.sleep(0.05)


def test_monitoring_shows_drift_accuracy_and_errors_the_same_after_a_restart(served) -> None:
    ws, rows, state = served
    url = state["url"]
    _traffic(url, rows)
    _flushed(url)
    r = _monitoring(url, window="1d")  # one window, unless the test runs over midnight UTC
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"] == MODEL
    (win,) = [w for w in doc["windows"] if w["version"] == 1]
    assert win["requests"] == 63 and win["errors"] == 3 and win["shadow"] is False
    assert 0 < win["latency_ms"]["p50"] <= win["latency_ms"]["p99"]
    top = max(win["features"], key=lambda c: win["features"][c]["psi"])
    assert top == "income" and win["features"]["income"]["psi"] > 0.25
    assert "ks" in win["features"]["income"] and "ks" not in win["features"]["region"]
    assert win["features"]["region"]["psi"] < 0.1  # undrifted columns stay low
    assert win["score_psi"] is not None
    assert win["labeled"] == 600 and win["auc"] < 0.5 and win["logloss"] > 0

    # the command line gives the same numbers
    out = seer_cli(
        "models", "monitor", MODEL, "--window", "1d", "--json", "--workspace", str(ws.root)
    )
    assert json.loads(out.stdout)["windows"] == doc["windows"]
    table = seer_cli("models", "monitor", MODEL, "--workspace", str(ws.root)).stdout
    assert "income" in table and "600" in table

    # a restarted service answers the same
    state["proc"].terminate()
    state["proc"].wait(10)
    state["proc"], state["url"] = start_service(ws.root)
    assert _monitoring(state["url"], window="1d").json()["windows"] == doc["windows"]

    # bad questions are answered with what to write instead
    for params, word in (({"window": "1 hour"}, "duration"), ({"since": "yesterday"}, "ISO")):
        bad = _monitoring(state["url"], **params)
        assert bad.status_code == 400 and word in bad.json()["error"]
    assert httpx.get(f"{state['url']}/v1/models/nope/monitoring").status_code == 404
    spec = httpx.get(f"{state['url']}/openapi.json").json()
    assert "/v1/models/{name}/monitoring" in spec["paths"]


def test_closed_windows_rolled_up_equal_the_log(served) -> None:
    """Closed windows are rolled up into the store once; their numbers equal a fresh reading
    of the log (the roll-up removed), and a window still open is never stored."""
    from engine.model_registry import ModelRegistry
    from engine.monitoring.windows import monitoring

    ws, _, _ = served
    # yesterday's traffic: the service's log of today, a day earlier, for a second name
    reg = ModelRegistry(ws)
    reg.publish(reg.path(MODEL, 1), "risk-history")
    source, target = ws.logs_dir / "serving" / MODEL, ws.logs_dir / "serving" / "risk-history"
    target.mkdir()
    for path in source.glob("*.jsonl"):
        kind, _, day = path.stem.partition("-")
        older = time.strftime(
            "%Y%m%d", time.gmtime(calendar.timegm(time.strptime(day, "%Y%m%d")) - 86400)
        )
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for rec in lines:
            rec["ts"] -= 86400
        (target / f"{kind}-{older}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    since = time.time() - 2 * 86400
    first = monitoring(ws, "risk-history", "1h", since)
    stored = ws.store.query(
        "SELECT COUNT(*) AS n FROM monitoring_windows WHERE model = ?", ("risk-history",)
    )
    assert stored[0]["n"] == len(first["windows"]) >= 1
    assert first["windows"][0]["features"]["income"]["psi"] > 0.25
    assert sum(w["labeled"] for w in first["windows"]) == 600
    ws.store.execute("DELETE FROM monitoring_windows")
    ws.store.execute("DELETE FROM monitoring_rollup")
    assert monitoring(ws, "risk-history", "1h", since)["windows"] == first["windows"]
    assert monitoring(ws, "risk-history", "1h", since)["windows"] == first["windows"]  # stored
    # today's window is still open: read from the log, not stored
    monitoring(ws, MODEL, "1h")
    open_rows = ws.store.query(
        "SELECT COUNT(*) AS n FROM monitoring_windows WHERE model = ?", (MODEL,)
    )
    assert open_rows[0]["n"] == 0


def test_alerts_are_raised_once_and_delivered_to_the_webhook(served) -> None:
    from engine.monitoring import alerts
    from engine.monitoring.policy import WatchPolicies

    ws, _, state = served
    receiver = Receiver()
    try:
        WatchPolicies(ws).update(MODEL, alerts={"webhook": receiver.url, "min_labeled": 100})
        new = alerts.evaluate(ws, MODEL)
        kinds = {(a["kind"], a["measure"]) for a in new}
        assert ("drift", "psi:income") in kinds and ("accuracy", "auc") in kinds
        assert ("errors", "error_rate") in kinds  # 3 of 63 requests
        assert all(a["model"] == MODEL and a["version"] == 1 for a in new)
        assert alerts.evaluate(ws, MODEL) == []  # one breach, one alert
        assert alerts.wait_deliveries(20)
        assert sorted(p["measure"] for p in receiver.received) == sorted(a["measure"] for a in new)
        assert "income" in next(
            p["text"] for p in receiver.received if p["measure"] == "psi:income"
        )
        listed = json.loads(
            seer_cli("models", "alerts", MODEL, "--json", "--workspace", str(ws.root)).stdout
        )
        assert {a["id"] for a in listed} == {a["id"] for a in new}
        assert {a["delivery"]["status"] for a in listed} == {"delivered"}
        shown = _monitoring(state["url"]).json()["alerts"]
        assert {a["id"] for a in shown} == {a["id"] for a in new}
        # a delivery its process never finished (it ended) is resumed by the next check, once
        drift = next(a["id"] for a in new if a["measure"] == "psi:income")
        ws.store.execute(
            "UPDATE model_alerts SET delivery = 'pending', claimed_at = ? WHERE id = ?",
            (time.time() - 600, drift),
        )
        assert alerts.evaluate(ws, MODEL) == [] and alerts.evaluate(ws, MODEL) == []
        assert alerts.wait_deliveries(20)
        assert [p["measure"] for p in receiver.received].count("psi:income") == 2
    finally:
        receiver.close()


def test_a_dead_webhook_blocks_neither_scoring_nor_evaluation(served) -> None:
    from engine.monitoring import alerts
    from engine.monitoring.policy import WatchPolicies

    ws, rows, state = served
    url = state["url"]
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    WatchPolicies(ws).update(MODEL, alerts={"webhook": dead, "p99_ms": 0.001})
    t0 = time.perf_counter()
    new = alerts.evaluate(ws, MODEL)
    assert time.perf_counter() - t0 < 3
    assert [a["kind"] for a in new] == ["latency"]
    t0 = time.perf_counter()
    for r in rows[:20]:
        ok = httpx.post(f"{url}/v1/models/{MODEL}:predict", json={"instances": [as_request(r)]})
        assert ok.status_code == 200
    assert time.perf_counter() - t0 < 5
    assert alerts.wait_deliveries(30)
    (rec,) = [a for a in alerts.list_alerts(ws, MODEL) if a["kind"] == "latency"]
    assert rec["delivery"]["status"] == "failed" and rec["delivery"]["attempts"] == alerts.ATTEMPTS
    assert "refused" in rec["delivery"]["error"].lower()


def test_the_monitoring_page_shows_the_drifted_column_on_top_and_the_alerts(served) -> None:
    from pathlib import Path

    from .studio_browser import CHROMIUM, FLAGS, Studio, shot

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    ws, _, _ = served
    studio = Studio(ws.root.parent)  # `seer studio` on the served workspace
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(studio.url)
            page.click("#page-monitoring")
            page.wait_for_selector("#drift-table .drift-row", timeout=30000)
            first = page.locator("#drift-table .drift-row").first
            assert first.locator(".drift-col").inner_text() == "income"
            assert float(first.locator(".drift-psi").inner_text()) > 0.25
            assert first.locator(".drift-high").count() == 1
            alerts = page.locator("#monitoring-alerts .alert-row")
            assert alerts.filter(has_text="psi:income").count() == 1
            assert alerts.filter(has_text="accuracy").count() == 1
            page.wait_for_selector("#mon-traffic .main-svg", timeout=10000)
            page.wait_for_selector("#mon-score .main-svg", timeout=10000)
            shot(page, "studio-monitoring")
            assert not errors, errors
            browser.close()
    finally:
        studio.stop()


def test_a_shadow_versions_predictions_get_windows_of_their_own(served) -> None:
    """Shadow predictions (logged with the shadow's version and "shadow": true) never mix into
    the serving version's numbers."""
    from engine.model_registry import ModelRegistry
    from engine.monitoring.windows import monitoring

    ws, rows, _ = served
    reg = ModelRegistry(ws)
    for _ in range(2):  # v1 in production, v2 beside it
        reg.publish(reg.path(MODEL, 1), "risk-shadow")
    folder = ws.logs_dir / "serving" / "risk-shadow"
    folder.mkdir()
    now = time.time()
    lines = []
    for i, row in enumerate(rows[:5]):
        shadow = i >= 3
        rec = {
            "ts": now - 5 + i,
            "request_id": f"{i:032x}.1.{'0' * 32}",
            "model": "risk-shadow",
            "version": 2 if shadow else 1,
            "instances": [as_request(row)],
            "predictions": [{"score": 0.2, "prediction": 0}],
            "latency_ms": 1.0 + 100 * shadow,
            "status": 200,
        }
        if shadow:
            rec["shadow"] = True
        lines.append(json.dumps(rec) + "\n")
    day = time.strftime("%Y%m%d", time.gmtime(now))
    (folder / f"predictions-{day}.jsonl").write_text("".join(lines))
    windows = monitoring(ws, "risk-shadow", "1d")["windows"]
    served_w = [w for w in windows if not w["shadow"]]
    shadow_w = [w for w in windows if w["shadow"]]
    assert [(w["version"], w["requests"]) for w in served_w] == [(1, 3)]
    assert [(w["version"], w["requests"]) for w in shadow_w] == [(2, 2)]
    assert served_w[0]["latency_ms"]["p99"] == 1.0 and shadow_w[0]["latency_ms"]["p50"] == 101.0
