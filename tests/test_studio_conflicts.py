"""Two tabs (or two users) saving the same flow file: the second save notices the first and
asks, through the real HTTP server and the callback bodies the browser posts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.workspace import Workspace
from tests.studio_http import callback_payload, client, studio_server

UPDATE = "/_dash-update-component"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ws = Workspace(tmp_path_factory.mktemp("conflicts") / "ws")
    ws.flows_dir.mkdir(parents=True)
    flow = {"seer_flow": 1, "name": "team", "nodes": [], "links": []}
    (ws.flows_dir / "team.flow.json").write_text(json.dumps(flow))
    with studio_server(ws) as app:
        app.ws = ws
        yield app


def post(app: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = client(app).post(UPDATE, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def open_flow(app: Any) -> dict[str, Any]:
    body = callback_payload(app, "files", ({"type": "open-flow", "name": "team"}, "n_clicks", 1))
    return post(app, body)["response"]["meta"]["data"]


def save(app: Any, meta: dict[str, Any], node_id: str) -> dict[str, Any]:
    doc = {"nodes": [{"id": node_id, "op": "import.sample", "x": 0, "y": 0}], "links": []}
    return post(
        app,
        callback_payload(
            app,
            "files",
            ("btn-save", "n_clicks", 1),
            {("doc", "data"): doc, ("meta", "data"): meta},
        ),
    )


def on_disk(app: Any) -> list[str]:
    text = (app.ws.flows_dir / "team.flow.json").read_text()
    return [n["id"] for n in json.loads(text)["nodes"]]


def test_a_save_over_another_tabs_save_asks_first(app: Any) -> None:
    tab_a, tab_b = open_flow(app), open_flow(app)
    saved_b = save(app, tab_b, "from_b")
    assert "toast-msg" in saved_b["response"] and on_disk(app) == ["from_b"]

    # tab A saves its own version: nothing is written, the dialog opens
    answer = save(app, tab_a, "from_a")
    assert on_disk(app) == ["from_b"]
    assert answer.get("sideUpdate", {}).get("conflict", {}).get("data", {}).get("name") == "team"
    dialog = post(
        app, callback_payload(app, "conflict_dialog", ("conflict", "data", {"name": "team"}))
    )["response"]
    assert dialog["modal-title"]["children"] == "This flow changed since you opened it"
    assert dialog["modal-state"]["data"] == {"action": "saveas"}  # OK saves under a new name
    assert dialog["modal-input"]["value"] == "team - mine"
    text = json.dumps(dialog["modal-body"])
    assert "Reload" in text and "Overwrite" in text

    def choose(choice: str, meta: dict[str, Any], node_id: str) -> dict[str, Any]:
        doc = {"nodes": [{"id": node_id, "op": "import.sample", "x": 0, "y": 0}], "links": []}
        return post(
            app,
            callback_payload(
                app,
                "conflict_choice",
                ({"type": "conflict-choice", "choice": choice}, "n_clicks", 1),
                {("doc", "data"): doc, ("meta", "data"): meta},
            ),
        )["response"]

    # Reload brings the other version onto the canvas
    reloaded = choose("reload", tab_a, "from_a")
    assert [e["data"]["id"] for e in reloaded["canvas"]["elements"]] == ["from_b"]
    # Overwrite replaces it with this tab's version; this tab then saves normally again
    overwritten = choose("overwrite", tab_a, "from_a")
    assert on_disk(app) == ["from_a"]
    tab_a = overwritten["meta"]["data"]
    assert "sideUpdate" not in save(app, tab_a, "from_a_again")
    assert on_disk(app) == ["from_a_again"]
    # and tab B, still holding the old version, is asked in turn
    assert "sideUpdate" in save(app, tab_b, "from_b_again")
    assert on_disk(app) == ["from_a_again"]


def test_save_as_from_the_dialog_keeps_both(app: Any) -> None:
    tab = open_flow(app)
    Path(app.ws.flows_dir / "team.flow.json").write_text(
        json.dumps({"seer_flow": 1, "name": "team", "nodes": [], "links": []})
    )
    assert "sideUpdate" in save(app, tab, "mine")
    doc = {"nodes": [{"id": "mine", "op": "import.sample", "x": 0, "y": 0}], "links": []}
    post(
        app,
        callback_payload(
            app,
            "files",
            ("modal-ok", "n_clicks", 1),
            {
                ("doc", "data"): doc,
                ("meta", "data"): tab,
                ("modal-state", "data"): {"action": "saveas"},
                ("modal-input", "value"): "team - mine",
            },
        ),
    )
    mine = json.loads((app.ws.flows_dir / "team - mine.flow.json").read_text())
    assert [n["id"] for n in mine["nodes"]] == ["mine"] and on_disk(app) == []
