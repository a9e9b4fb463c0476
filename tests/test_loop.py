"""The loop end to end, over real HTTP against `seer serve`: a model trained on early months,
later shifted months replayed with feedback, a retrain on its own feedback judged on held-out
recent traffic and promoted while clients keep calling; a broken retrain; shadow traffic; two
schedulers on one workspace."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.csv as pacsv
import pytest

from .conftest import ROOT, run_flow, write_flow
from .test_serving import start_service

pytestmark = [pytest.mark.spark, pytest.mark.slow]

LOOP = ROOT / "sample_flows" / "credit_risk_loop.flow.json"
RETRAIN = ROOT / "sample_flows" / "credit_risk_retrain.flow.json"
ROWS = "6000"
MODEL = "credit_risk"


def _replay_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "replay_feedback", ROOT / "sample_flows" / "replay_feedback.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def served(spark, tmp_path_factory):
    """The walkthrough's first model (sample_flows/credit_risk_loop.flow.json) behind the
    service, and the later, shifted months it never saw (sorted by date)."""
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("loop")
    ws = Workspace(folder / "ws")
    out = ws.root / "out"
    result = run_flow(LOOP, ws, overrides={"rows": ROWS, "out_dir": str(out)})
    assert result.status == "succeeded", {k: v.error for k, v in result.nodes.items() if v.error}
    later = pacsv.read_csv(out / "later_months.csv").to_pylist()
    later.sort(key=lambda r: r["application_date"])
    proc, url = start_service(ws.root)
    yield ws, url, later
    proc.terminate()
    proc.wait(10)


class Hammer(threading.Thread):
    """A client calling the service non-stop: the versions it was answered by, and failures."""

    def __init__(self, url: str, row: dict[str, Any]):
        super().__init__(daemon=True)
        self.url, self.body = url, {"instances": [row]}
        self.seen: list[tuple[float, int]] = []
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.halt.is_set():
                try:
                    r = client.post(f"/v1/models/{MODEL}:predict", json=self.body)
                    if r.status_code != 200:
                        self.failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        self.seen.append((time.monotonic(), r.json()["version"]))
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                time.sleep(0.005)


def _watch(ws: Any, flow: Path, **retrain: Any) -> None:
    from engine.monitoring.policy import WatchPolicies

    WatchPolicies(ws).update(MODEL, retrain={"flow": str(flow), **retrain})


def _fire_check(ws: Any) -> dict[str, Any]:
    """`seer models check`, as the policy fires it: on the drift alert the monitoring raises."""
    from engine.retrain import check

    _watch(ws, RETRAIN, params={"rows": ROWS}, on_drift=True)
    doc = check(ws, MODEL)
    drift = {a["measure"] for a in doc["alerts"] if a["kind"] == "drift"}
    assert {"psi:channel", "psi:interest_rate"} <= drift, doc["alerts"]  # the shifted columns
    assert doc["reason"].startswith("retrained on drift alert psi:"), doc["reason"]
    return doc


def test_drifted_model_is_retrained_on_its_feedback_and_promoted_without_a_failed_request(
    served,
) -> None:
    from engine.challenger import Comparisons, compare_versions
    from engine.model_registry import ModelRegistry

    ws, url, later = served
    replay = _replay_module()
    seen = replay.replay(url, MODEL, later, "default", batch=25)
    assert dict(seen) == {1: len(later)}
    time.sleep(0.6)  # the request log is written off the hot path
    registry = ModelRegistry(ws)
    validation_auc = registry.versions(MODEL)[0]["metrics"]["valid_auc"]
    live = Comparisons(ws).live(MODEL)["1"]
    assert live["labeled"] == len(later)
    assert live["auc"] < validation_auc - 0.02  # the new channel's risk is invisible to it

    row = {k: v for k, v in later[0].items() if k != "default"}
    hammer = Hammer(url, row | {"application_date": str(row["application_date"])})
    hammer.start()
    try:
        doc = _fire_check(ws)
        decided = time.monotonic()
        assert doc["retrain"]["status"] == "succeeded", doc
        assert doc["decision"] == "promoted", doc["reason"]
        while time.monotonic() - decided < 2 and not any(
            v == 2 for t, v in hammer.seen if t >= decided
        ):
            time.sleep(0.02)
        switched = next((t for t, v in hammer.seen if v == 2 and t >= decided), None)
        time.sleep(0.3)
    finally:
        hammer.halt.set()
        hammer.join(10)
    assert switched is not None and switched - decided < 2.0
    assert hammer.failures == [] and len(hammer.seen) > 20
    assert registry.route(MODEL).production == 2

    comparison = doc["comparison"]
    window = comparison["window"]
    assert abs(window["rows"] - 0.3 * len(later)) < 25  # whole requests of 25 rows
    champion, challenger = comparison["versions"]["1"], comparison["versions"]["2"]
    assert champion["rows"] == challenger["rows"] == window["rows"]
    assert challenger["auc"] - champion["auc"] >= 0.005 and comparison["gain"] > 0
    # the challenger never trained on the window it was judged on
    logs = ws.store.logs(doc["retrain"]["run_id"])
    held = [r["message"] for r in logs if r["message"].startswith("held out")]
    # (the window's labeled rows, and whatever the client logged since, unlabeled)
    assert held and int(held[0].split()[2].replace(",", "")) >= window["rows"]
    recorded = compare_versions(ws, MODEL, 1, 2)["recorded"]
    assert recorded and recorded[0]["versions"]["2"]["auc"] == challenger["auc"]


def test_broken_retrain_leaves_the_champion_and_is_recorded_and_alerted(
    served, tmp_path: Path
) -> None:
    from engine.model_registry import ModelRegistry
    from engine.retrain import Retrains, check

    ws, _, _ = served
    broken = write_flow(
        tmp_path,
        [
            {"id": "log", "op": "import.serving_log", "params": {"model": "nobody-logged-this"}},
            {"id": "train", "op": "train.gbdt", "params": {"label": "label"}},
            {"id": "publish", "op": "publish", "params": {"name": MODEL}},
        ],
        [("log.out", "train.train"), ("train.model", "publish.model")],
        name="broken",
    )
    before = ModelRegistry(ws).route(MODEL).production
    _watch(ws, broken, params={}, schedule=None, on_drift=True)
    doc = check(ws, MODEL, force=True)
    assert doc["retrain"]["status"] == "failed" and doc["retrain"]["version"] is None
    assert doc["decision"] is None and "stays in production" in doc["reason"]
    assert "logged nothing" in doc["reason"]
    raised = [a for a in doc["alerts"] if a["kind"] == "retrain"]
    assert len(raised) == 1 and raised[0]["model"] == MODEL and raised[0]["version"] == before
    from engine.monitoring.alerts import list_alerts  # `seer models alerts` lists it

    assert "retrain" in [a["kind"] for a in list_alerts(ws, MODEL)]
    assert ModelRegistry(ws).route(MODEL).production == before
    last = Retrains(ws).history(MODEL)[0]
    assert last["status"] == "failed" and last["run_id"] == doc["retrain"]["run_id"]


def test_shadow_scores_are_logged_never_returned_and_compared(served) -> None:
    from engine.challenger import compare_versions
    from engine.model_registry import ModelRegistry

    ws, url, later = served
    registry = ModelRegistry(ws)
    production = registry.route(MODEL).production
    other = next(v["version"] for v in registry.versions(MODEL) if v["version"] != production)
    registry.shadow(MODEL, other)
    end = time.monotonic() + 10  # the service picks the route up like a canary change
    while httpx.get(f"{url}/v1/models/{MODEL}").json().get("shadow", {}).get("version") != other:
        assert time.monotonic() < end, "the service did not pick the shadow up"
        time.sleep(0.1)
    rows = later[:60]
    replay = _replay_module()
    seen = replay.replay(url, MODEL, rows, "default", batch=20)
    assert dict(seen) == {production: len(rows)}  # every answer from production

    def logged() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for path in (ws.logs_dir / "serving" / MODEL).glob("predictions-*.jsonl")
            for line in path.read_text().splitlines()
        ]

    end = time.monotonic() + 10  # mirrors are scored when the service is quiet
    while sum(len(r["instances"]) for r in logged() if r.get("shadow")) < len(rows):
        assert time.monotonic() < end, "the shadow's scores were not logged"
        time.sleep(0.2)
    records = logged()
    shadows = [r for r in records if r.get("shadow")]
    assert shadows and {r["version"] for r in shadows} == {other}
    served_ids = {r["request_id"] for r in records if not r.get("shadow")}
    assert {r["request_id"] for r in shadows} <= served_ids
    end = time.monotonic() + 10  # the feedback is logged off the hot path too
    while compare_versions(ws, MODEL, production, other)["live"][f"{other} (shadow)"][
        "labeled"
    ] < len(rows):
        assert time.monotonic() < end, "the shadow's scores were not labeled by the feedback"
        time.sleep(0.2)
    registry.shadow(MODEL, None)


def test_two_schedulers_never_run_the_same_retrain_twice_and_a_missed_slot_runs_once(
    served, tmp_path: Path
) -> None:
    from croniter import croniter

    from engine.retrain import Retrains, policy_set_at
    from engine.scheduler import Scheduler
    from engine.workspace import Workspace

    ws, _, _ = served
    broken = write_flow(
        tmp_path,
        [{"id": "log", "op": "import.serving_log", "params": {"model": "nobody-logged-this"}}],
        [],
        name="quick",
    )
    _watch(ws, broken, params={}, schedule="0 3 * * *", on_drift=False)
    slot = croniter("0 3 * * *", policy_set_at(ws, MODEL)).get_next(float)
    later = slot + 3600  # no scheduler ran at 03:00: the slot was missed
    before = len(Retrains(ws).history(MODEL, limit=1000))
    start = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def scheduler() -> None:
        one = Scheduler(Workspace(ws.root))  # its own store connection, as another process
        start.wait()
        answers.append(one.run_once(now=later)[MODEL])

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    runs = Retrains(ws).history(MODEL, limit=1000)
    assert len(runs) == before + 1
    ran = [a for a in answers if a["retrain"] is not None]
    assert len(ran) == 1 and "missed while no scheduler ran" in ran[0]["reason"]
    assert Scheduler(ws).run_once(now=later + 60)[MODEL]["retrain"] is None  # ran once


def test_a_schedule_missed_while_nothing_ran_runs_once_when_the_studio_starts(
    served, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from .test_serving import free_port

    ws, _, _ = served
    quick = write_flow(
        tmp_path,
        [{"id": "log", "op": "import.serving_log", "params": {"model": "nobody-logged-this"}}],
        [],
        name="quick",
    )
    _watch(ws, quick, params={}, schedule="0 3 * * *", on_drift=False)
    # the policy was set two days ago, and no scheduler has run since
    ws.store.execute(
        "UPDATE model_watch SET updated_at = updated_at - 172800 WHERE name = ?", (MODEL,)
    )
    ws.store.execute("DELETE FROM retrain_schedule WHERE name = ?", (MODEL,))
    from engine.retrain import Retrains

    before = len(Retrains(ws).history(MODEL, limit=1000))
    exe = Path(sys.executable).parent / "seer"
    proc = subprocess.Popen(
        [
            str(exe),
            "studio",
            "--no-browser",
            "--port",
            str(free_port()),
            "--workspace",
            str(ws.root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))
    reader.start()
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and not any(
            "missed while no scheduler ran" in x for x in lines
        ):
            time.sleep(0.2)
    finally:
        proc.terminate()
        code = proc.wait(60)
        reader.join(10)
    said = [x for x in lines if "missed while no scheduler ran" in x]
    assert said and "retrain" in said[0], "".join(lines)[-3000:]
    assert code == 0  # the scheduler thread stopped with the studio
    runs = Retrains(ws).history(MODEL, limit=1000)
    assert len(runs) == before + 1 and "missed" in runs[0]["trigger"]


def test_a_challenger_that_loses_stays_in_staging_and_a_winner_can_go_to_canary_first(
    served,
) -> None:
    from engine.challenger import holdout_cut, read_traffic, served_labeled
    from engine.model_registry import ModelRegistry
    from engine.monitoring.policy import WatchPolicies
    from engine.retrain import decide

    ws, _, _ = served
    registry = ModelRegistry(ws)
    # judges the two versions of the end-to-end test above (module order): run the module
    assert registry.route(MODEL).production == 2, "run with the end-to-end test before it"
    cut = holdout_cut(served_labeled(read_traffic(ws, MODEL)))
    old, new = registry.path(MODEL, 1), registry.path(MODEL, 2)
    loser = registry.publish(old, MODEL)  # the first model again, against its successor
    policy = WatchPolicies(ws).update(MODEL, retrain={"canary": None, "min_gain": 0.005})
    rec: dict[str, Any] = {"version": loser}
    decide(ws, policy, rec, 2, cut)
    assert rec["decision"] == "kept" and "stays in staging" in rec["reason"]
    assert rec["comparison"]["gain"] < 0.005 and registry.route(MODEL).production == 2

    registry.promote(MODEL, loser)  # say the old model were back in production
    winner = registry.publish(new, MODEL)
    policy = WatchPolicies(ws).update(MODEL, retrain={"canary": 20.0})
    rec = {"version": winner}
    decide(ws, policy, rec, loser, cut)
    route = registry.route(MODEL)
    assert rec["decision"] == "canary" and "20% of traffic" in rec["reason"]
    assert route.production == loser and (route.canary, route.canary_percent) == (winner, 20.0)
    registry.canary(MODEL, winner, 0)
    registry.promote(MODEL, winner)


def test_the_commands_answer_as_documented(served) -> None:
    from .conftest import seer_cli

    ws, _, _ = served
    where = ("--workspace", str(ws.root))
    doc = json.loads(seer_cli("models", "compare", MODEL, "1", "2", "--json", *where).stdout)
    assert set(doc["versions"]) == {"1", "2"} and doc["window"]["rows"] > 0
    assert doc["live"]["1"]["labeled"] > 0 and doc["recorded"]
    checked = seer_cli("models", "check", MODEL, "--json", *where)
    assert checked.returncode == 0, checked.stderr
    assert set(json.loads(checked.stdout)) == {
        "alerts",
        "retrain",
        "comparison",
        "decision",
        "reason",
    }
    bad = seer_cli("models", "shadow", MODEL, "99", *where)
    assert bad.returncode == 2 and "has no version 99" in bad.stderr
    same = seer_cli("models", "compare", MODEL, "2", "2", *where)
    assert same.returncode == 2 and "two different versions" in same.stderr
    once = seer_cli("scheduler", "--once", *where)
    assert once.returncode == 0, once.stderr


def test_a_retrain_lease_is_taken_over_only_once_its_holder_stopped_renewing(workspace) -> None:
    from engine.retrain import LEASE_SECONDS, Retrains

    leases = Retrains(workspace)
    assert leases.take_lease("m", "a", now=1000.0)
    assert not leases.take_lease("m", "b", now=1000.0 + LEASE_SECONDS / 2)
    assert leases.take_lease("m", "a", now=1000.0 + LEASE_SECONDS / 2)  # its holder renews
    assert leases.take_lease("m", "b", now=1000.0 + 2 * LEASE_SECONDS)  # a dead holder's lease


def test_the_models_page_shows_the_last_retrain_side_by_side(served) -> None:
    from playwright.sync_api import sync_playwright

    from engine.challenger import Comparisons
    from engine.retrain import Retrains

    from .studio_browser import CHROMIUM, FLAGS, SHOTS
    from .studio_http import studio_server

    ws, _, _ = served
    last = Comparisons(ws).recorded(MODEL)[0]
    trigger = Retrains(ws).history(MODEL, limit=1)[0]["trigger"]
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with studio_server(ws) as app, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(app.base_url + "/", wait_until="networkidle")
        end = time.monotonic() + 60
        while not page.query_selector("table.comparison"):  # once the app's callbacks are in
            assert time.monotonic() < end, page.inner_text("body")[-2000:]
            page.click("#page-models")
            page.wait_for_timeout(1000)
        table = page.query_selector("table.comparison")
        text = table.inner_text()
        said = page.inner_text(".card")
        SHOTS.mkdir(parents=True, exist_ok=True)
        table.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "models-last-retrain.png"))
        browser.close()
    for version, m in last["versions"].items():
        assert f"v{version}" in text and m["role"] in text and f"{m['auc']:.4f}" in text
    assert "Last retrain" in said and trigger in said
