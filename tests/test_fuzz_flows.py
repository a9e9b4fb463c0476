"""Property-based fuzzing of flow loading and of every operator's params: whatever a flow file
holds, validation answers with a list of problems, never a traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dataroots import DataRoots
from engine.flow import MAX_FLOW_BYTES, FlowError, analyze_flow, load_flow, parse_flow
from engine.registry import load_registry

REGISTRY = load_registry()
OPS = sorted(REGISTRY.ids())
ROOTS = DataRoots(["/tmp"])

# JSON values with the awkward cases: null bytes, huge and non-finite-looking numbers, deep
# nesting, unicode, path-like and SQL-like strings, ${...} references
_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "\x00",
            "a\x00b",
            "../../etc/passwd",
            "/etc/passwd",
            "~",
            "${x}",
            "${env:HOME}",
            "SELECT * FROM t",
            "age > 30",
            "sqlite:///x.db",
            "postgresql://h/db?password=x",
            "1e400",
            "☃",
            "NaN",
        ]
    ),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _param_values(op_id: str) -> st.SearchStrategy:
    op = REGISTRY.get(op_id)
    names = [p.name for p in op.params] + ["unknown_param"]
    return st.dictionaries(st.sampled_from(names), _JSON, max_size=len(names))


@st.composite
def _flows(draw) -> dict:
    n = draw(st.integers(min_value=0, max_value=4))
    nodes = []
    for i in range(n):
        op_id = draw(st.sampled_from([*OPS, "no.such.op"]))
        node = {"id": f"n{i}", "op": op_id}
        node["params"] = draw(_param_values(op_id)) if op_id in OPS else draw(_JSON)
        if draw(st.booleans()):
            node["version"] = draw(st.one_of(st.integers(-3, 2**70), _JSON))
        nodes.append(node)
    links = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        src = draw(st.sampled_from([n["id"] for n in nodes] or ["x"]))
        dst = draw(st.sampled_from([n["id"] for n in nodes] or ["y"]))
        port = st.sampled_from(["in", "out", "train", "test", "model", "data", "scored", "x"])
        links.append(
            {"from": {"node": src, "port": draw(port)}, "to": {"node": dst, "port": draw(port)}}
        )
    doc = {"seer_flow": 1, "name": draw(_TEXT), "nodes": nodes, "links": links}
    if draw(st.booleans()):
        doc["params"] = draw(st.dictionaries(st.from_regex(r"[a-z]{1,3}", fullmatch=True), _JSON))
    if draw(st.booleans()):  # break the structure somewhere
        key = draw(st.sampled_from(["nodes", "links", "params", "seer_flow", "name", "ui"]))
        doc[key] = draw(_JSON)
    return doc


def _validate(text: str) -> list:
    try:
        flow = parse_flow(text, Path("/tmp/fuzz.flow.json"))
    except FlowError as err:
        assert err.problems
        return err.problems
    _, problems = analyze_flow(flow, REGISTRY, roots=ROOTS)
    for p in problems:
        assert isinstance(p.message, str) and p.message
        assert "Traceback" not in p.message
    return problems


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_flows())
def test_any_flow_document_gives_problems_not_a_traceback(doc: dict) -> None:
    _validate(json.dumps(doc))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(OPS), st.data())
def test_any_params_of_any_operator_give_problems_not_a_traceback(op_id: str, data) -> None:
    params = data.draw(_param_values(op_id))
    doc = {"seer_flow": 1, "name": "f", "nodes": [{"id": "n", "op": op_id, "params": params}]}
    _validate(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_problems_not_a_traceback(text: str) -> None:
    _validate(text)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("[" * 100_000 + "]" * 100_000, "nested"),
        (
            '{"seer_flow": 1, "name": "x", "nodes": [], "ui": ' + "[" * 500 + "]" * 500 + "}",
            "nested",
        ),
        ('{"seer_flow": 1, "nodes": [], "links": [], "name": "a\\u0000b"}', None),
        ('{"seer_flow": 18446744073709551616, "nodes": []}', "newer"),
        (
            json.dumps(
                {
                    "seer_flow": 1,
                    "nodes": [
                        {
                            "id": "f",
                            "op": "features.extract",
                            "params": {"label": "y", "features": [{"kind": "combine", "of": True}]},
                        }
                    ],
                }
            ),
            "'of' must list",
        ),
    ],
)
def test_pathological_documents(text: str, expected: str | None) -> None:
    problems = _validate(text)
    if expected:
        assert any(expected in p.message for p in problems), problems


def test_a_big_flow_is_refused_or_validated_quickly(tmp_path: Path) -> None:
    nodes = [{"id": "g", "op": "import.sample", "params": {"rows": 10}}]
    nodes += [
        {"id": f"f{i}", "op": "clean.filter", "params": {"condition": "age > 1"}}
        for i in range(2_000)
    ]
    links = [
        {"from": {"node": "g", "port": "out"}, "to": {"node": f"f{i}", "port": "in"}}
        for i in range(2_000)
    ]
    doc = {"seer_flow": 1, "name": "big", "nodes": nodes, "links": links}
    t0 = time.perf_counter()
    assert _validate(json.dumps(doc)) == []
    assert time.perf_counter() - t0 < 20  # generous: a shared, loaded 2-core machine

    huge = {"seer_flow": 1, "name": "huge", "nodes": nodes * 10, "links": []}
    t0 = time.perf_counter()
    problems = _validate(json.dumps(huge))
    assert any("nodes" in p.message and "at most" in p.message for p in problems), problems[:3]
    assert time.perf_counter() - t0 < 20


def test_a_file_too_big_or_with_a_null_byte_in_its_name(tmp_path: Path) -> None:
    big = tmp_path / "big.flow.json"
    big.write_text(" " * (MAX_FLOW_BYTES + 1))
    with pytest.raises(FlowError, match="larger than"):
        load_flow(big)
    with pytest.raises(FlowError, match="null character"):
        load_flow(str(tmp_path / "a\x00b.flow.json"))
