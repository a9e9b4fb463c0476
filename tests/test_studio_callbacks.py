"""The studio's callbacks as plain functions: what each one answers for what a user did,
without a browser or a Dash request (a Flask app context stands for the logged-in user)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash import no_update
from flask import Flask, g

from engine.users import User
from engine.workspace import Workspace
from studio import state
from studio.components import evaluation, files, modal, problems, runpanel
from studio.context import Studio, Trigger
from studio.pages import models


@pytest.fixture()
def studio(tmp_path: Path) -> Iterator[Studio]:
    ws = Workspace(tmp_path / "ws")
    ws.flows_dir.mkdir(parents=True, exist_ok=True)
    app = Flask("t")
    with app.app_context():
        g.seer_user = User("ana", "editor")
        g.seer_local = False
        yield Studio.open(ws)


def csv_node(path: str = "data/missing.csv") -> dict[str, Any]:
    return {"id": "read", "op": "import.csv", "label": "Read", "params": {"path": path}}


def test_an_empty_canvas_says_what_to_do(studio: Studio) -> None:
    items, store, dirty, name, tab = problems.validate(studio, None, None)
    assert "The canvas is empty" in items[0].children
    assert store["problems"] == [] and dirty == "" and name == "untitled" and tab == "Problems"


def test_problems_are_listed_by_node_and_counted_on_the_tab(studio: Studio) -> None:
    doc = {"nodes": [{"id": "x", "op": "no.such.op", "params": {}}], "links": []}
    items, store, dirty, _, tab = problems.validate(studio, doc, state.empty_meta())
    assert store["problems"] and tab == f"Problems ({len(store['problems'])})"
    assert items[0].id == {"type": "problem", "node": "x", "i": 0}
    assert dirty == "● unsaved"


def test_problem_rows_render_flow_wide_problems_too() -> None:
    rows = problems.problem_items([{"node": None, "message": "Name the label."}], False)
    assert rows[0].children[0].children == "flow" and rows[0].id["node"] == ""
    assert problems.problem_items([], False)[0].children == problems.CLEAN


def test_the_first_save_asks_for_a_name_and_later_saves_do_not(studio: Studio) -> None:
    out = modal.open_modal(studio, Trigger("btn-save", 1), None, state.empty_meta())
    assert (
        out[0] == "modal" and out[1] == "Name the flow to save it" and out[5]["action"] == "saveas"
    )
    saved = {**state.empty_meta(), "file": "credit", "name": "credit"}
    assert modal.open_modal(studio, Trigger("btn-save", 1), None, saved) == modal.UNCHANGED


def test_delete_of_a_flow_never_saved_says_there_is_nothing(studio: Studio) -> None:
    out = modal.open_modal(studio, Trigger("btn-delete", 1), None, state.empty_meta())
    assert out[1] == "Nothing to delete" and out[5] == {"action": "none"}


def test_open_lists_the_samples(studio: Studio) -> None:
    out = modal.open_modal(studio, Trigger(state.GO_OPEN, 1.0), 1.0, state.empty_meta())
    text = json.dumps(out[2], default=lambda c: c.to_plotly_json())
    assert out[1] == "Open a flow" and "credit_risk" in text and "No saved flows yet." in text


def test_a_button_appearing_is_not_a_click(studio: Studio) -> None:
    trig = Trigger({"type": "publish", "node": "gbdt"}, 0)
    assert modal.open_modal(studio, trig, None, None) == modal.UNCHANGED


def files_call(studio: Studio, trig: Trigger, doc: Any, meta: Any, **states: Any) -> tuple:
    upload, filename = states.get("upload"), states.get("filename")
    mstate, value = states.get("mstate"), states.get("value")
    return files.files(studio, trig, upload, filename, doc, meta, mstate, value, None)


def test_save_as_writes_the_file_and_names_the_flow(studio: Studio) -> None:
    doc = {"nodes": [csv_node()], "links": []}
    out = files_call(
        studio,
        Trigger("modal-ok", 1),
        doc,
        state.empty_meta(),
        mstate={"action": "saveas"},
        value="income",
    )
    meta, toast = out[1], out[6]
    assert meta["file"] == "income" and meta["saved"] and toast["msg"] == 'Saved as "income".'
    saved = json.loads((studio.ws.flows_dir / "income.flow.json").read_text())
    assert [n["id"] for n in saved["nodes"]] == ["read"]
    again = files_call(
        studio,
        Trigger("modal-ok", 2),
        doc,
        state.empty_meta(),
        mstate={"action": "saveas"},
        value="income",
    )
    assert again[4] == 'A flow named "income" exists; choose another name.'


def test_a_bad_name_is_refused_in_the_dialog(studio: Studio) -> None:
    out = files_call(
        studio, Trigger("modal-ok", 1), None, None, mstate={"action": "saveas"}, value="../x"
    )
    assert isinstance(out[4], str) and out[4] and out[1] is no_update


def test_new_empties_the_canvas_with_a_new_identity(studio: Studio) -> None:
    out = files_call(studio, Trigger(state.GO_NEW, 5.0), {"nodes": [csv_node()]}, None)
    assert out[0] == [] and out[1]["id"] and out[1]["file"] is None


def test_export_downloads_the_flow_file(studio: Studio) -> None:
    doc = {"nodes": [csv_node()], "links": []}
    out = files_call(studio, Trigger("btn-export", 1), doc, {**state.empty_meta(), "name": "a"})
    assert out[5]["filename"] == "a.flow.json"
    assert json.loads(out[5]["content"])["nodes"][0]["op"] == "import.csv"


def test_run_buttons_say_what_is_missing(studio: Studio) -> None:
    doc = {"nodes": [csv_node()], "links": []}
    out = runpanel.run_control(studio, Trigger("btn-run-to", 1), doc, None, None, None)
    assert out[2]["msg"] == "Select a node first." and out[2]["kind"] == "error"
    out = runpanel.run_control(studio, Trigger("btn-run", 1), None, None, None, None)
    assert out[2]["msg"] == "The canvas is empty: add operators first."
    out = runpanel.run_control(studio, Trigger("btn-stop", 1), doc, None, None, None)
    assert out[2]["msg"] == "No run is in progress."


def test_a_flow_with_problems_is_not_run(studio: Studio) -> None:
    doc = {"nodes": [{"id": "x", "op": "no.such.op", "params": {}}], "links": []}
    out = runpanel.run_control(studio, Trigger("btn-run", 1), doc, None, None, None)
    assert "problem" in out[2]["msg"] and out[0] is no_update


def test_try_it_values_are_typed_as_the_service_expects() -> None:
    ids = [
        {"name": "m", "col": "age", "kind": "number"},
        {"name": "m", "col": "rate", "kind": "number"},
        {"name": "m", "col": "ok", "kind": "bool"},
        {"name": "m", "col": "job", "kind": "text"},
        {"name": "m", "col": "gap", "kind": "text"},
        {"name": "other", "col": "age", "kind": "number"},
    ]
    record = models.try_record("m", ["38", "0.5", "yes", "Private", "", "1"], ids)
    assert record == {"age": 38, "rate": 0.5, "ok": True, "job": "Private", "gap": None}


def test_evaluated_inputs_are_named_by_their_node_labels() -> None:
    labels = {"predict_2": "GBDT scores", "predict": "LR scores"}
    assert evaluation.display_name("predict_2", labels) == "GBDT scores"
    assert evaluation.display_name("predict.scored", labels) == "LR scores"
    assert evaluation.display_name("elsewhere", labels) == "elsewhere"


def test_numbers_are_written_for_people() -> None:
    from studio.components.widgets import number

    assert number(189778.1234) == "189,778"
    assert number(38.5816) == "38.58" and number(0.123456) == "0.1235" and number(2.0) == "2"
    assert number(1234567) == "1,234,567" and number(None) == "" and number(0.0) == "0"
    assert number(3.2e-7) == "3.2e-07"


def test_parameters_are_labelled_in_plain_words() -> None:
    from studio.forms import param_field, strings_text, title_of

    assert title_of({"name": "bad_rows"}) == "Rows that cannot be read"
    assert title_of({"name": "ratio"}) == "Ratio"
    assert title_of({"name": "x", "title": "Share of rows"}) == "Share of rows"
    null_values = {
        "name": "null_values",
        "type": "array",
        "items": {"type": "string"},
        "default": [""],
        "x-widget": "json",
    }
    field = param_field("read", null_values, ["", "NA", "?"], [])
    label, control = field.children[0], field.children[1]
    assert label.children[0] == "Values that mean “missing”"
    assert control.value == "(empty), NA, ?" and control.id["kind"] == "strings"
    assert strings_text([""]) == "(empty)"


def test_try_it_never_asks_for_the_label_and_starts_from_typical_values() -> None:
    from studio.services import fields_from_manifest

    manifest = {
        "label": "income",
        "input_schema": [
            {"name": "age", "type": "int"},
            {"name": "hours", "type": "double"},
            {"name": "workclass", "type": "string"},
            {"name": "income", "type": "string"},
        ],
        "baseline": {
            "columns": [
                {"name": "age", "mean": 38.58},
                {"name": "hours", "mean": 40.437},
                {"name": "workclass", "top": [{"value": "Private", "count": 22696}]},
            ]
        },
    }
    fields = {f["name"]: f["example"] for f in fields_from_manifest(manifest)}
    assert fields == {"age": 39, "hours": 40.44, "workclass": "Private"}


def test_try_it_offers_the_categories_the_model_knows() -> None:
    from studio.pages.models import try_field
    from studio.services import fields_from_manifest

    manifest = {
        "model_type": "gbdt",
        "label": "income",
        "input_schema": [{"name": "age", "type": "int"}, {"name": "workclass", "type": "string"}],
        "gbdt": {
            "columns": [
                {"name": "age", "categorical": False},
                {"name": "workclass", "categorical": True, "categories": ["Private", "State-gov"]},
            ]
        },
    }
    fields = {f["name"]: f for f in fields_from_manifest(manifest)}
    assert "known" not in fields["age"]
    assert fields["workclass"]["known"] == ["Private", "State-gov"]
    box = try_field("income", fields["workclass"])
    control, pick_list = box.children[1], box.children[2]
    assert control.list == pick_list.id
    assert [o.value for o in pick_list.children] == ["Private", "State-gov"]


def test_the_feature_editor_suggests_kinds_from_type_and_statistics() -> None:
    from studio.components.featureeditor import suggest

    def kind(**col: object) -> str:
        return suggest(col)["kind"]

    assert kind(type="int", distinct=69, sampled=3000) == "bucket"
    assert kind(type="int", distinct=2, sampled=3000) == "discrete"  # a 0/1 code
    assert kind(type="double") == "bucket"  # before a run: the type alone
    assert kind(type="string", distinct=7, sampled=3000) == "discrete"
    assert kind(type="string", distinct=3000, sampled=3000) == "ignore"  # an identifier
    assert kind(type="date") == "datetime"
    assert kind(type="string", distinct=3, missing_share=0.99) == "ignore"
    assert kind(type="array<int>") == "ignore"


def test_the_threshold_table_starts_at_the_sliders_value() -> None:
    from studio.components.evaluation import confusion, slider_start

    grid = [i / 100 for i in range(101)]
    report = {
        "rows": 100,
        "positives": 20,
        "threshold": 0.2437,  # the model's own cut-off, off the slider's grid
        "confusion": {"tp": 15, "fp": 9},
        "charts": {
            "thresholds": {
                "threshold": grid,
                "tp": [round(20 * (1 - t)) for t in grid],
                "fp": [round(80 * (1 - t) ** 2) for t in grid],
            }
        },
    }
    start = slider_start({"LR": report})
    assert start == 0.24
    row = confusion({"LR": report}, start).children[1].children[0]
    assert row.children[1].children == "0.240"  # the table says what the slider says


def test_the_services_warnings_are_shown_with_the_score() -> None:
    from studio.services import answer_view

    data = {
        "model": "income",
        "version": 1,
        "predictions": [{"score": 0.12, "prediction": 0}],
        "warnings": [
            {"field": "workclass", "value": "Privat", "known": ["Private", "Self-emp-inc"]},
            "plain sentence",
        ],
    }
    text = json.dumps(answer_view("income", data).to_plotly_json(), default=str)
    assert '\\"Privat\\" is not a category the model saw for workclass' in text
    assert "Known values: Private, Self-emp-inc" in text and "plain sentence" in text
    quiet = answer_view("income", {**data, "warnings": []})
    assert "try-warning" not in json.dumps(quiet.to_plotly_json(), default=str)


def test_the_scoring_services_own_unseen_value_warning_reads_once() -> None:
    """The warning the scoring service really sends for a typo'd category is shown as its
    sentence, naming the field and the known values once."""
    from engine.serving.scoring import _unseen_warning
    from studio.services import answer_view

    warning = _unseen_warning("workclass", "Privat", [0], ["Private", "Self-emp-inc"])
    data = {
        "model": "income",
        "version": 1,
        "predictions": [{"score": 0.1, "prediction": 0}],
        "warnings": [warning],
    }
    view = answer_view("income", data)
    shown = [
        json.dumps(c.to_plotly_json(), default=str)
        for c in view._traverse()
        if "try-warning" in str(getattr(c, "className", ""))
    ]
    assert len(shown) == 1 and "workclass" in shown[0] and "Privat" in shown[0]
    assert shown[0].count("Known values: Private, Self-emp-inc") == 1


def test_a_link_drawn_refreshes_the_column_pickers_and_typing_does_not() -> None:
    from studio.components.inspector import columns_unchanged

    doc = {"nodes": [{"id": "gbdt", "op": "train.gbdt", "params": {}}], "links": []}
    sel = {"kind": "node", "id": "gbdt"}
    shown = {"id": "gbdt", "columns": []}
    linked = {"columns": {"gbdt": {"train": ["age", "income"]}}, "problems": []}
    assert not columns_unchanged(sel, doc, linked, shown)
    assert columns_unchanged(sel, doc, linked, {"id": "gbdt", "columns": ["age", "income"]})


def test_stop_is_active_only_during_a_run(studio: Studio) -> None:
    assert runpanel.stop_button(False) == (True, "No run is in progress")
    assert runpanel.stop_button(True) == (False, "Cancel the run")


def test_problems_mark_warnings_and_keep_errors_plain(studio: Studio) -> None:
    rows = problems.problem_items(
        [
            {"node": "sql", "message": "Failed in run r1: Column 'agee' does not exist."},
            {"node": "score", "message": "scores rows it was trained on", "severity": "warning"},
        ],
        False,
    )
    assert rows[0].id == {"type": "problem", "node": "sql", "i": 0}
    assert rows[0].children[1].children.startswith("Failed in run r1")
    assert rows[0].className == "problem"
    assert rows[1].children[1].children == "⚠ scores rows it was trained on"
    assert rows[1].className == "problem warning"


def test_promote_and_canary_are_offered_only_on_versions_not_in_production() -> None:
    from studio.pages.models import version_row

    def buttons(stage: str) -> list[str]:
        row = version_row("income", {"version": 2, "stage": stage, "metrics": {"valid_auc": 0.9}})
        return [c.children for c in row._traverse() if getattr(c, "id", None) and "act" in c.id]

    assert buttons("production") == []
    assert buttons("staging") == ["Promote", "Canary"]


def test_sample_descriptions_are_cut_at_a_word_with_an_ellipsis() -> None:
    from studio.components.modal import short_text

    text = "Compare an LR and a GBDT on loans and export both the summary and the scores."
    assert short_text(text, 200) == text
    cut = short_text(text, 40)
    assert cut.endswith("…") and len(cut) <= 40
    assert text.startswith(cut[:-1]) and text[len(cut) - 1] == " "  # a whole word was kept


def test_nodes_with_errors_get_a_red_border_and_warned_nodes_an_amber_one(studio: Studio) -> None:
    from studio.components.canvas import stylesheet

    found = {
        "problems": [
            {"node": "gbdt", "message": "not connected", "severity": "error"},
            {"node": "score", "message": "scores its training rows", "severity": "warning"},
        ]
    }
    doc = {"nodes": [{"id": "gbdt"}, {"id": "score"}], "links": []}
    borders = {
        rule["selector"]: rule["style"]["border-color"]
        for rule in stylesheet(studio, found, None, doc, None)
        if "border-color" in rule.get("style", {}) and "node[id" in rule["selector"]
    }
    assert borders == {'node[id = "gbdt"]': "#dc2626", 'node[id = "score"]': "#b45309"}


def test_run_to_here_needs_only_what_feeds_the_node() -> None:
    from studio.model import doc_to_flow
    from studio.runs import upstream_flow

    doc = {
        "nodes": [
            {"id": "data", "op": "import.sample", "params": {}, "x": 0, "y": 0},
            {"id": "split", "op": "split", "params": {}, "x": 1, "y": 0},
            {"id": "lr", "op": "train.hdlr", "params": {}, "x": 2, "y": 0},  # no label yet
            {"id": "other", "op": "import.sample", "params": {}, "x": 0, "y": 1},
        ],
        "links": [
            {"source": "data", "sourcePort": "out", "target": "split", "targetPort": "in"},
            {"source": "split", "sourcePort": "train", "target": "lr", "targetPort": "train"},
        ],
    }
    part = upstream_flow(doc_to_flow(doc, state.empty_meta()), "split")
    assert [n.id for n in part.nodes] == ["data", "split"]
    assert [(lk.src, lk.dst) for lk in part.links] == [("data", "split")]
