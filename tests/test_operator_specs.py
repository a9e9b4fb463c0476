"""Generated tests over every registered operator's spec: valid defaults are accepted and
every kind of invalid value is rejected with the one message shape users see."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from engine.flow import validate_params
from engine.registry import load_registry
from engine.spec import MISSING, PORT_TYPES, Operator, Param

OPS = load_registry().all()
MESSAGE = re.compile(
    r"^The '(?P<param>[a-z0-9_]+)' parameter of (?P<op>[a-z._]+) \(node \"(?P<node>[^\"]+)\"\) "
    r"must be (?P<constraint>.+)\. Got (?P<got>.+)\.$"
)


def valid_value(p: Param) -> Any:
    if p.default is not MISSING and p.default is not None:
        return p.default
    if p.examples:
        return p.examples[0]
    if p.enum:
        return p.enum[0]
    return {
        "string": "x",
        "integer": int(p.minimum) + 1 if p.minimum is not None else 1,
        "number": 0.5 if p.minimum is None else p.minimum + 0.5,
        "boolean": True,
        "array": ["x"],
        "object": {},
    }[p.type]


def required_params(op: Operator) -> dict[str, Any]:
    base = {p.name: valid_value(p) for p in op.params if p.required}
    return {**base, **(op.example_params or {})}


def invalid_values(p: Param) -> list[Any]:
    """Values that break one constraint each: type, range, enum, emptiness, non-finite."""
    wrong_type = {
        "string": 12,
        "integer": "twelve",
        "number": "1.5x",
        "boolean": "yes",
        "array": "not-a-list",
        "object": ["not", "an", "object"],
    }[p.type]
    out: list[Any] = [wrong_type]
    if p.type in ("integer", "number"):
        if p.minimum is not None:
            out.append(p.minimum if p.exclusive_minimum else p.minimum - 1)
        if p.maximum is not None:
            out.append(p.maximum if p.exclusive_maximum else p.maximum + 1)
        if p.type == "integer":
            out.append(1.5 if (p.minimum is None or p.minimum < 1.5) else p.minimum + 0.5)
        else:
            out.append(math.nan)
    if p.enum is not None:
        out.append("no-such-choice")
    if p.min_length:
        out.append("" if p.type == "string" else [])
    if p.type == "array" and (p.items or {}).get("type") == "string":
        out.append([1, 2])
    return out


CASES = [(op, p, v) for op in OPS for p in op.params for v in invalid_values(p)]


def test_every_operator_is_registered_with_a_complete_spec() -> None:
    ids = {op.id for op in OPS}
    assert {
        "import.csv",
        "import.sample",
        "split",
        "transform.sql",
        "export.csv",
        "export.parquet",
    } <= ids
    for op in OPS:
        assert op.title and op.category and op.description, op.id
        assert isinstance(op.version, int) and op.version >= 1
        for port in (*op.inputs, *op.outputs):
            assert port.type in PORT_TYPES
        for p in op.params:
            assert p.description, f"{op.id}.{p.name} has no help text"


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.id)
def test_defaults_are_valid(op: Operator) -> None:
    assert validate_params(op, required_params(op), "n1") == []


@pytest.mark.parametrize(
    "op", [o for o in OPS if any(p.required for p in o.params)], ids=lambda o: o.id
)
def test_missing_required_params_are_named(op: Operator) -> None:
    messages = validate_params(op, {}, "n1")
    for p in op.params:
        if p.required:
            assert any(
                m.startswith(f"The '{p.name}' parameter of {op.id} (node \"n1\") is required")
                for m in messages
            )


@pytest.mark.parametrize(
    ("op", "param", "value"), CASES, ids=[f"{o.id}.{p.name}={v!r}" for o, p, v in CASES]
)
def test_invalid_values_are_rejected_with_one_message_shape(
    op: Operator, param: Param, value: Any
) -> None:
    params = {**required_params(op), param.name: value}
    messages = validate_params(op, params, "n1")
    assert len(messages) == 1, messages
    m = MESSAGE.match(messages[0])
    assert m, messages[0]
    assert m["param"] == param.name and m["op"] == op.id and m["node"] == "n1"
    assert m["constraint"] == param.describe()


def test_the_message_reads_as_designed() -> None:
    split = load_registry().get("split")
    assert validate_params(split, {"ratio": 1.5}, "split1") == [
        "The 'ratio' parameter of split (node \"split1\") must be a number in (0, 1). Got 1.5."
    ]
    assert validate_params(split, {"mode": "random"}, "s") == [
        'The \'mode\' parameter of split (node "s") must be one of "ratio", "rule". Got "random".'
    ]


def test_unknown_params_suggest_the_closest_name() -> None:
    split = load_registry().get("split")
    [msg] = validate_params(split, {"ratoi": 0.5}, "s")
    assert "split has no parameter 'ratoi'" in msg and 'Did you mean "ratio"?' in msg


def test_cross_param_checks_name_the_fix() -> None:
    split = load_registry().get("split")
    [msg] = validate_params(split, {"mode": "rule"}, "s")
    assert "'rule' parameter of split (node \"s\") is required in rule mode" in msg


def test_operator_reference_doc_is_generated_from_the_specs() -> None:
    from pathlib import Path

    from engine.docs import operators_markdown

    doc = Path(__file__).resolve().parent.parent / "docs" / "operators.md"
    assert doc.read_text() == operators_markdown(OPS), (
        "docs/operators.md is out of date: run `seer operators --markdown > docs/operators.md`"
    )


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_categories_are_a_closed_set_the_studio_colours_readably() -> None:
    from engine.spec import CATEGORIES
    from studio.model import CATEGORY_COLOURS, palette_groups

    assert {op.category for op in OPS} <= set(CATEGORIES)
    # every category has its own colour; white badge text on it is readable (WCAG AA)
    assert set(CATEGORY_COLOURS) == set(CATEGORIES)
    assert len(set(CATEGORY_COLOURS.values())) == len(CATEGORIES)
    for category, colour in CATEGORY_COLOURS.items():
        assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, category
    # the palette reads data in, then out: Evaluation and Deploy come after Models
    order = [cat for cat, _ in palette_groups()]
    assert order.index("Data") < order.index("Models") < order.index("Evaluation")
    assert order.index("Evaluation") < order.index("Deploy")

    class Stray(Operator):
        id = "pack.stray"
        category = "Scoring"
        title = description = "t"

        def run(self, ctx: Any, inputs: Any, params: Any) -> Any:
            return {}

    assert Stray().spec_problem() == (
        "Operator pack.stray declares the category 'Scoring'; use one of Data, Clean, "
        "Transform, Features, Models, Evaluation, Deploy, Other."
    )


def test_shared_params_are_declared_once_and_agree() -> None:
    """Every operator's seed takes the same range (what LightGBM and Spark accept), and
    every model's label and positive-class params read alike."""
    from engine.spec import LABEL, POSITIVE, SEED_MAX

    seeds = [(op.id, p) for op in OPS for p in op.params if p.name == "seed"]
    assert len(seeds) >= 6
    for op_id, p in seeds:
        assert (p.minimum, p.maximum, p.default) == (0, SEED_MAX, 42), op_id
        assert p.description.startswith("Seed of"), op_id  # says what it seeds
    for op in OPS:
        names = {p.name: p for p in op.params}
        if op.id.startswith("train."):  # every model reads its label the same way
            assert names["label"] is LABEL and names["positive"] is POSITIVE, op.id
    too_big = validate_params(load_registry().get("split"), {"seed": SEED_MAX + 1}, "s")
    assert too_big, "a seed beyond the shared range is refused"
