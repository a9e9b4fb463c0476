"""Operator specs: the single source of truth for an operator's ports and params.

An operator declares its id, version, category, ports and params once; the palette, the
generated parameter form, flow validation, `seer operators` and the operator reference
are all derived from that declaration.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema

from engine.errors import node_phrase
from engine.table_schema import TableSchema

if TYPE_CHECKING:  # pragma: no cover
    from engine.context import RunContext

#: Types a port can carry. A link is only valid between ports of the same type.
PORT_TYPES = frozenset({"table", "model", "metrics", "transform", "report"})

#: The operator categories, in the palette's reading order (data in, then out). The set is
#: closed: the studio gives each its colour, and an operator of another category does not load.
CATEGORIES = (
    "Data",
    "Clean",
    "Transform",
    "Features",
    "Models",
    "Evaluation",
    "Deploy",
    "Other",
)

#: The closed set of widget hints the studio maps to form components.
WIDGETS = frozenset(
    {
        "text",  # one-line text
        "number",
        "checkbox",
        "select",  # an enum rendered as a dropdown
        "column",  # one column of the (first) input table
        "columns",  # several columns of the input table
        "code",  # SQL or an expression: a code editor
        "path",  # a file or folder; relative paths resolve against the flow's folder
        "mapping",  # a small key -> value table (e.g. renames, an explicit schema)
        "features",  # the feature configuration table editor
        "json",  # anything else, edited as JSON
    }
)

#: A published model's name: also a folder name under the workspace, so no '/' and no
#: leading '.'.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def model_name_problem(what: str, name: Any) -> str | None:
    if not isinstance(name, str) or MODEL_NAME.fullmatch(name):
        return None
    return (
        f"{what} must be a model name: letters, digits, '_', '.' and '-', starting with a "
        f"letter or digit, at most 64 characters. Got {name[:80]!r}."
    )


PARAM_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Port:
    """An input or output of an operator."""

    name: str
    type: str
    description: str = ""
    multiple: bool = False  # an input port that accepts several links
    optional: bool = False  # an input that may be left unconnected

    def __post_init__(self) -> None:
        if self.type not in PORT_TYPES:
            raise ValueError(f"port {self.name!r}: unknown port type {self.type!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "multiple": self.multiple,
            "optional": self.optional,
        }


def _fmt_num(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


_PLURAL = {
    "string": "strings",
    "integer": "integers",
    "number": "numbers",
    "boolean": "booleans",
    "object": "objects",
    "array": "lists",
}


@dataclass(frozen=True)
class Param:
    """One parameter, with JSON Schema semantics.

    ``required`` params have no default; optional ones either have a default or are
    ``nullable`` (absent means "not set").
    """

    name: str
    type: str
    description: str = ""
    default: Any = MISSING
    required: bool = False
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_length: int | None = None
    items: Mapping[str, Any] | None = None  # JSON Schema of array items
    values: Mapping[str, Any] | None = None  # JSON Schema of object values
    nullable: bool = False
    widget: str | None = None
    title: str | None = None
    examples: tuple[Any, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"param {self.name!r}: unknown type {self.type!r}")
        if self.widget is not None and self.widget not in WIDGETS:
            raise ValueError(f"param {self.name!r}: unknown widget {self.widget!r}")
        if self.required and self.default is not MISSING:
            raise ValueError(f"param {self.name!r}: a required param has no default")
        if self.default not in (MISSING, None) and not self.accepts(self.default):
            raise ValueError(f"param {self.name!r}: default {self.default!r} is invalid")

    # -- JSON Schema ---------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.title:
            schema["title"] = self.title
        if self.description:
            schema["description"] = self.description
        if self.default is not MISSING:
            schema["default"] = self.default
        if self.enum is not None:
            schema["enum"] = list(self.enum) + ([None] if self.nullable else [])
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if self.min_length is not None:
            key = "minItems" if self.type == "array" else "minLength"
            schema[key] = self.min_length
        if self.items is not None:
            schema["items"] = dict(self.items)
        if self.values is not None:
            schema["additionalProperties"] = dict(self.values)
        if self.widget:
            schema["x-widget"] = self.widget
        return schema

    def _validator(self) -> jsonschema.protocols.Validator:
        cached = _VALIDATORS.get(id(self))
        if cached is None or cached[0] is not self:
            schema = self.json_schema()
            schema.pop("x-widget", None)
            cached = (self, jsonschema.Draft202012Validator(schema))
            _VALIDATORS[id(self)] = cached
        return cached[1]

    def accepts(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return self._validator().is_valid(value)

    # -- messages ------------------------------------------------------------------------
    def describe(self) -> str:
        """The constraint as a phrase: 'a number in (0, 1)', "one of 'ratio', 'rule'"."""
        if self.enum is not None:
            text = "one of " + ", ".join(json.dumps(v) for v in self.enum)
        elif self.type in ("integer", "number"):
            text = "an integer" if self.type == "integer" else "a number"
            lo, hi = self.minimum, self.maximum
            if lo is not None or hi is not None:
                left = "(" if (lo is None or self.exclusive_minimum) else "["
                right = ")" if (hi is None or self.exclusive_maximum) else "]"
                lo_s = "-inf" if lo is None else _fmt_num(lo)
                hi_s = "inf" if hi is None else _fmt_num(hi)
                text += f" in {left}{lo_s}, {hi_s}{right}"
        elif self.type == "boolean":
            text = "true or false"
        elif self.type == "string":
            text = "a non-empty string" if self.min_length else "a string"
            if self.widget == "column":
                text = "a column name"
        elif self.type == "array":
            item_type = (self.items or {}).get("type", "")
            if self.widget == "columns":
                noun = "column names"
            else:
                noun = _PLURAL.get(item_type, "values") if isinstance(item_type, str) else "values"
            text = f"a non-empty list of {noun}" if self.min_length else f"a list of {noun}"
        else:  # object
            value_type = (self.values or {}).get("type")
            if isinstance(value_type, str):
                text = f"an object mapping names to {_PLURAL.get(value_type, 'values')}"
            else:
                text = "an object"
        if self.nullable:
            text += " (or null)"
        return text

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "required": self.required, **self.json_schema()}
        return out


_VALIDATORS: dict[int, tuple[Param, Any]] = {}


# -- messages ---------------------------------------------------------------------------
def missing_column(
    op_id: str, param: str, column: Any, schema: TableSchema, side: str = "input"
) -> str | None:
    """A sentence when ``column`` is not in ``schema`` (None when it is, or is not set)."""
    if not isinstance(column, str) or not column or column in schema.names:
        return None
    import difflib

    close = difflib.get_close_matches(column, schema.names, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    names = ", ".join(schema.names)
    if len(names) > 300:
        names = names[:297] + "..."
    return (
        f"The '{param}' parameter of {op_id} names the column \"{column}\", which is not in its "
        f"{side}.{hint} Columns: {names}."
    )


# -- the shared vocabulary: how sentences name a node; params and types many operators use --
def with_node(sentence: str, op_id: str, node_id: str | None) -> str:
    """Insert the node id after the first mention of the operator in an operator's sentence."""
    if not node_id:
        return sentence
    token = f"of {op_id} "
    if token in sentence:
        return sentence.replace(token, f"of {node_phrase(op_id, node_id)} ", 1)
    return sentence


#: The largest seed any operator takes (Spark's, LightGBM's and NumPy's seeds all fit in it).
SEED_MAX = 2**31 - 1


def seed_param(description: str) -> Param:
    """The ``seed`` param: what it seeds, in the operator's words; default 42."""
    return Param(
        "seed", "integer", description, default=42, minimum=0, maximum=SEED_MAX, widget="number"
    )


#: The label column of a binary model.
LABEL = Param(
    "label",
    "string",
    "The label column (0/1, true/false or two strings).",
    required=True,
    min_length=1,
    widget="column",
)
#: The positive class of a two-string label.
POSITIVE = Param(
    "positive",
    "string",
    "The positive class, when the label holds two strings.",
    nullable=True,
    widget="text",
)
#: Column types a user may name (casts, CSV schemas), besides ``decimal(p,s)``.
SIMPLE_TYPES = ("string", "int", "bigint", "double", "float", "boolean", "date", "timestamp")
_DECIMAL_TYPE = re.compile(r"decimal\(\d+,\s*\d+\)")


def is_simple_type(name: str) -> bool:
    """Whether ``name`` is one of SIMPLE_TYPES or ``decimal(p,s)``."""
    return name in SIMPLE_TYPES or _DECIMAL_TYPE.fullmatch(name) is not None


def param_message(op_id: str, node_id: str | None, param: Param, value: Any) -> str:
    where = node_phrase(op_id, node_id)
    try:
        got = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        got = repr(value)
    if len(got) > 80:
        got = got[:77] + "..."
    return f"The '{param.name}' parameter of {where} must be {param.describe()}. Got {got}."


# -- the operator base class --------------------------------------------------------------
class Operator(ABC):
    """Base class of every operator. Subclasses set the class attributes and ``run``."""

    id: ClassVar[str]
    version: ClassVar[int] = 1
    category: ClassVar[str] = "Other"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[Port, ...]] = ()
    outputs: ClassVar[tuple[Port, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    #: A minimal valid set of params when the required ones alone are not enough (docs, tests).
    example_params: ClassVar[dict[str, Any] | None] = None

    # -- spec helpers ----------------------------------------------------------------------
    def spec_problem(self) -> str | None:
        """Why this operator's declaration cannot be loaded, or None."""
        if self.category not in CATEGORIES:
            return (
                f"Operator {self.id} declares the category {self.category!r}; "
                f"use one of {', '.join(CATEGORIES)}."
            )
        return None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def input_port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not MISSING}

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out = self.defaults()
        out.update(params)
        for p in self.params:
            if p.nullable and p.name not in out:
                out[p.name] = None
        return out

    def spec_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "inputs": [p.to_json() for p in self.inputs],
            "outputs": [p.to_json() for p in self.outputs],
            "params": [p.to_json() for p in self.params],
        }

    # -- hooks an operator may override ---------------------------------------------------
    def migrate_params(self, params: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Turn params saved by an older version of this operator into current ones."""
        return params

    def resolve_params(self, params: dict[str, Any], base: Path) -> dict[str, Any]:
        """Make location params absolute against the flow's folder (``path`` widgets are
        resolved by the engine; this is for other forms, e.g. a sqlite:/// URL)."""
        return params

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Checks that involve several params. Returns (param name, sentence) pairs."""
        return []

    def local_paths(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The files and folders the node reads or writes, as (param name, path) pairs: they
        must lie inside the data roots (engine/dataroots.py). The default lists every ``path``
        param; an operator that names files in another form (a sqlite:/// URL) adds them."""
        out: list[tuple[str, str]] = []
        for p in self.params:
            if p.widget != "path":
                continue
            value = params.get(p.name)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item:
                    out.append((p.name, item))
        return out

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Column names in params that the input tables do not have: (param, sentence) pairs.

        Runs at validation time on inferred schemas (where they are known) and again at run
        time on the real ones. The default checks every ``column``/``columns`` param against
        first table input (``in``, or e.g. ``train``).
        """
        first = next((p.name for p in self.inputs if p.type == "table"), "in")
        source = inputs.get(first)
        if isinstance(source, list):
            source = source[0] if len(source) == 1 else None
        if not isinstance(source, TableSchema):
            return []
        out = []
        for p in self.params:
            if p.widget == "column":
                named = [params.get(p.name)]
            elif p.widget == "columns":
                named = list(params.get(p.name) or [])
            else:
                continue
            for col in named:
                sentence = missing_column(self.id, p.name, col, source)
                if sentence:
                    out.append((p.name, sentence))
        return out

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        """Output table schemas from input schemas and params, without running Spark.

        ``inputs`` maps an input port to its TableSchema (None when unknown), or to a
        list of them for a port with several links. The default passes the schema of the
        single ``in`` port through to every table output.
        """
        source = inputs.get("in")
        if isinstance(source, list):
            source = source[0] if len(source) == 1 else None
        return {p.name: source for p in self.outputs if p.type == "table"}

    def is_cacheable(self, params: Mapping[str, Any]) -> bool:
        """False for sources that change under you (a database, unless marked static)."""
        return True

    def fingerprint(self, params: Mapping[str, Any]) -> Any:
        """Extra cache-key material, e.g. the size and mtime of the files a node reads."""
        return None

    def error_hint(self, message: str, params: Mapping[str, Any]) -> str | None:
        """Advice appended to a Spark error raised while this node's output was computed."""
        return None

    def passes_through(self, params: Mapping[str, Any]) -> bool:
        """True when the output tables are cheap, narrow plans over the inputs (a filter, say).
        In a run that keeps only what is needed (``seer run`` without ``--keep-all``) they are
        then handed to their consumers unsaved and recomputed when needed again; ``run`` sees
        ``ctx.pass_through`` and returns DataFrames instead of writing files."""
        return False

    #: True when ``run`` reads its input tables' stored files (e.g. training-data statistics),
    #: so its inputs are always saved.
    reads_input_files: ClassVar[bool] = False
    #: True when the operator sets a model's scores on its own training rows beside its scores
    #: on other rows, labelled as such (a model report's train/test comparison): scoring
    #: training rows only for it is not leakage.
    compares_training_scores: ClassVar[bool] = False

    def external_outputs(self, params: Mapping[str, Any]) -> list[str]:
        """Files a node writes outside the run store; a cached result is only reused while
        they are still there, unchanged."""
        return []

    @abstractmethod
    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Compute the outputs: a Spark DataFrame per table port, a dict per metrics or
        report port, a folder (``ctx.artifact_dir(port)``) per model or transform port."""
