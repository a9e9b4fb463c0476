"""The studio keeps flows inside the data roots: its validation refuses outside paths, the file
picker lists only the roots and refuses a forged pick, and sample data is copied into the
workspace rather than read from the package folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.workspace import Workspace

from .studio_http import callback_payload, client, studio_server


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("roots")
    extra = base / "shared-data"
    extra.mkdir()
    (extra / "loans.csv").write_text("id,amount\n1,10\n")
    ws = Workspace(base / "ws")
    ws.flows_dir.mkdir(parents=True)
    with studio_server(ws, data_roots=(str(extra),)) as app:
        yield app, ws, extra


def _post(app: Any, payload: dict) -> dict:
    with client(app) as c:
        r = c.post("/_dash-update-component", json=payload)
    assert r.status_code == 200, r.text
    return r.json()["response"]


def test_validation_in_the_studio_refuses_paths_outside_the_roots(setup: Any) -> None:
    app, ws, extra = setup
    doc = {
        "nodes": [
            {"id": "a", "op": "import.csv", "params": {"path": "/etc/passwd"}},
            {"id": "b", "op": "import.csv", "params": {"path": str(extra / "loans.csv")}},
        ],
        "links": [],
    }
    out = _post(
        app, callback_payload(app, "validate", ("doc", "data", doc), {("meta", "data"): {}})
    )
    problems = out["problems-store"]["data"]["problems"]
    refused = [p for p in problems if "outside the allowed data folders" in p["message"]]
    assert [p["node"] for p in refused] == ["a"], problems


def test_the_picker_lists_the_roots_and_refuses_a_forged_pick(setup: Any) -> None:
    app, ws, extra = setup
    listing = _post(
        app,
        callback_payload(app, "browse_dir", ({"type": "browse-dir", "path": ""}, "n_clicks", 1)),
    )
    text = str(listing)
    assert str(extra) in text and str(ws.root) in text and "/etc" not in text
    # a folder outside the roots shows the roots instead
    listing = _post(
        app,
        callback_payload(
            app, "browse_dir", ({"type": "browse-dir", "path": "/etc"}, "n_clicks", 1)
        ),
    )
    assert "passwd" not in str(listing) and str(extra) in str(listing)
    state = {("modal-state", "data"): {"node": "a", "name": "path"}}
    forged = callback_payload(
        app, "browse_pick", ({"type": "browse-file", "path": "/etc/passwd"}, "n_clicks", 1), state
    )
    out = _post(app, forged)
    assert "outside the allowed data folders" in out["toast-msg"]["data"]["msg"]
    assert "browse-target" not in out
    ok = callback_payload(
        app,
        "browse_pick",
        ({"type": "browse-file", "path": str(extra / "loans.csv")}, "n_clicks", 1),
        state,
    )
    assert _post(app, ok)["browse-target"]["data"]["path"] == str(extra / "loans.csv")


def test_a_sample_flow_reads_its_data_from_the_workspace(tmp_path: Path) -> None:
    from studio.model import SAMPLES_DIR, load_sample, sample_flows

    for sample in sample_flows():  # every sample opens (long SQL params are no file names)
        load_sample(sample["name"], tmp_path / "every")

    data = tmp_path / "ws" / "flows" / "data"
    flow = load_sample("credit_risk_sqlite", data)
    url = flow.node("loans").params["url"]
    assert url == f"sqlite:///{data / 'loans.db'}"
    assert (data / "loans.db").read_bytes() == (SAMPLES_DIR / "data" / "loans.db").read_bytes()
