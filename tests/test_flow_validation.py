"""Loading a flow collects every problem, each with its node and a sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.flow import FlowError, load_flow, parse_flow, prepare_flow, save_flow

from .conftest import ROOT, write_flow


def problems_of(path: Path, overrides: dict[str, str] | None = None) -> list:
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(path), overrides=overrides)
    return err.value.problems


def test_every_problem_in_a_broken_flow_is_reported_at_once(tmp_path: Path) -> None:
    nodes = [
        {"id": "load", "op": "import.csv", "params": {"path": "data.csv", "delimter": ";"}},
        {"id": "load", "op": "import.sample"},
        {"id": "typo", "op": "import.cvs", "params": {}},
        {"id": "split", "op": "split", "params": {"ratio": 1.5}},
        {"id": "sql", "op": "transform.sql", "params": {"query": "SELECT 1"}},
        {"id": "export", "op": "export.csv", "params": {}},
        {"id": "a", "op": "transform.sql", "params": {"query": "SELECT * FROM b"}},
        {"id": "b", "op": "transform.sql", "params": {"query": "SELECT * FROM a"}},
        {"id": "newer", "op": "split", "version": 9, "params": {}},
    ]
    links = [
        ("load.out", "split.in"),
        ("split.train", "sql.in"),
        ("ghost.out", "sql.in"),
        ("split.train", "export.in"),
        ("split.test", "export.in"),
        ("split.trian", "sql.in"),
        ("a.out", "b.in"),
        ("b.out", "a.in"),
    ]
    path = write_flow(tmp_path, nodes, links)
    found = {(p.code, p.node) for p in problems_of(path)}
    expected = {
        ("unknown-param", "load"),
        ("duplicate-id", "load"),
        ("unknown-op", "typo"),
        ("invalid-param", "split"),
        ("dangling-link", "sql"),
        ("missing-param", "export"),
        ("too-many-links", "export"),
        ("unknown-port", "split"),
        ("cycle", "a") if ("cycle", "a") in found else ("cycle", "b"),
        ("newer-op-version", "newer"),
    }
    assert expected <= found, expected - found


def test_messages_are_sentences_that_name_the_fix(tmp_path: Path) -> None:
    nodes = [
        {"id": "load", "op": "import.cvs", "params": {}},
        {"id": "split", "op": "split", "params": {}},
        {"id": "export", "op": "export.csv", "params": {"path": "x.csv"}},
    ]
    path = write_flow(tmp_path, nodes, [("split.train", "export.in")])
    msgs = {p.node: p.message for p in problems_of(path)}
    assert 'Unknown operator "import.cvs". Did you mean "import.csv"?' in msgs["load"]
    assert msgs["split"] == (
        'Input "in" (table) of split is not connected; link an upstream node\'s output to it.'
    )


def test_link_between_incompatible_port_types_is_refused(tmp_path: Path) -> None:
    from engine.flow import prepare_flow as prep
    from engine.registry import load_registry
    from engine.spec import Operator, Port

    class MakesMetrics(Operator):
        id = "test.metrics"
        title = category = description = "t"
        outputs = (Port("metrics", "metrics"),)

        def run(self, ctx, inputs, params):  # pragma: no cover - never run
            return {}

    reg = load_registry()
    reg._ops["test.metrics"] = MakesMetrics()
    try:
        path = write_flow(
            tmp_path,
            [{"id": "m", "op": "test.metrics"}, {"id": "split", "op": "split"}],
            [("m.metrics", "split.in")],
        )
        with pytest.raises(FlowError) as err:
            prep(load_flow(path), reg)
        [p] = err.value.problems
        assert p.code == "port-type" and p.node == "split"
        assert "connects a metrics output to a table input" in p.message
    finally:
        del reg._ops["test.metrics"]


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow.json"
    path.write_text('{\n  "seer_flow": 1,\n  "nodes": [\n    {"id": "a" "op": "split"}\n  ]\n}\n')
    with pytest.raises(FlowError) as err:
        load_flow(path)
    [p] = err.value.problems
    assert p.code == "json" and "line 4, column 16" in p.message


def test_a_newer_flow_format_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(FlowError) as err:
        parse_flow(json.dumps({"seer_flow": 2, "nodes": [], "future": True}))
    [p] = err.value.problems
    assert p.code == "newer-format" and "Upgrade Seer" in p.message


def test_structure_errors_name_the_node(tmp_path: Path) -> None:
    text = json.dumps(
        {"seer_flow": 1, "nodes": [{"id": "bad id!", "op": "split"}, {"id": "x"}], "links": [{}]}
    )
    with pytest.raises(FlowError) as err:
        parse_flow(text)
    msgs = [str(p) for p in err.value.problems]
    assert any("may only contain letters, digits" in m for m in msgs)
    assert any(m.startswith('node "x"') and "'op' is a required property" in m for m in msgs)
    assert any("link #1" in m for m in msgs)


def test_flow_params_substitute_with_their_types_and_cli_overrides(tmp_path: Path) -> None:
    nodes = [
        {"id": "gen", "op": "import.sample", "params": {"rows": "${rows}"}},
        {
            "id": "split",
            "op": "split",
            "params": {"mode": "rule", "rule": "application_date < '${cutoff}'"},
        },
        {"id": "out", "op": "export.csv", "params": {"path": "${out}"}},
    ]
    path = write_flow(
        tmp_path,
        nodes,
        [("gen.out", "split.in"), ("split.train", "out.in")],
        params={"rows": 500, "cutoff": "2024-01-01", "out": "result/train.csv"},
    )
    prepared = prepare_flow(load_flow(path))
    assert prepared.nodes["gen"].params["rows"] == 500
    assert prepared.nodes["split"].params["rule"] == "application_date < '2024-01-01'"
    # relative paths resolve against the flow file's folder
    assert prepared.nodes["out"].params["path"] == str(tmp_path / "result" / "train.csv")

    cwd = tmp_path / "elsewhere"
    prepared = prepare_flow(
        load_flow(path),
        overrides={"rows": "42", "cutoff": "2023-06-30", "out": "o.csv"},
        override_base=cwd,
    )
    assert prepared.nodes["gen"].params["rows"] == 42
    assert "'2023-06-30'" in prepared.nodes["split"].params["rule"]
    # a path given on the command line resolves against the current directory
    assert prepared.nodes["out"].params["path"] == str(cwd / "o.csv")


def test_bad_flow_params_are_reported(tmp_path: Path) -> None:
    nodes = [{"id": "gen", "op": "import.sample", "params": {"rows": "${rowz}", "seed": "${seed}"}}]
    path = write_flow(tmp_path, nodes, [], params={"seed": 3})
    probs = problems_of(path, overrides={"seed": "three", "nope": "1"})
    codes = {p.code for p in probs}
    assert {"undefined-flow-param", "invalid-flow-param", "unknown-flow-param"} <= codes
    msg = next(p.message for p in probs if p.code == "undefined-flow-param")
    assert '"${rowz}"' in msg and 'add "rowz"' in msg


def test_old_operator_versions_are_migrated(tmp_path: Path) -> None:
    from engine.registry import load_registry

    split = load_registry().get("split")
    original = split.migrate_params
    split.migrate_params = lambda params, v: {
        ("ratio" if k == "fraction" else k): x for k, x in params.items()
    }
    try:
        split_version = type(split).version
        type(split).version = 2
        path = write_flow(
            tmp_path,
            [
                {"id": "g", "op": "import.sample"},
                {"id": "s", "op": "split", "version": 1, "params": {"fraction": 0.6}},
            ],
            [("g.out", "s.in")],
        )
        prepared = prepare_flow(load_flow(path))
        assert prepared.nodes["s"].params["ratio"] == 0.6
    finally:
        type(split).version = split_version
        split.migrate_params = original


def test_sample_flows_are_valid_and_round_trip(tmp_path: Path) -> None:
    flows = sorted((ROOT / "sample_flows").glob("*.flow.json"))
    assert flows
    for path in flows:
        flow = load_flow(path)
        prepare_flow(flow)
        copy = save_flow(flow, tmp_path / path.name)
        assert json.loads(copy.read_text()) == json.loads(path.read_text())


def test_shipped_schema_accepts_the_design_example() -> None:
    import jsonschema

    from engine.flow import flow_schema

    example = {
        "seer_flow": 1,
        "name": "credit-default",
        "description": "optional",
        "params": {"data": "data/credit.csv"},
        "nodes": [
            {
                "id": "load",
                "op": "import.csv",
                "version": 1,
                "params": {"path": "${data}"},
                "ui": {"x": 80, "y": 120, "label": "Load"},
            }
        ],
        "links": [{"from": {"node": "load", "port": "out"}, "to": {"node": "split", "port": "in"}}],
    }
    jsonschema.validate(example, flow_schema())
