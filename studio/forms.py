"""The inspector's parameter form, generated from an operator's spec (its widget hints)."""

from __future__ import annotations

import json
from typing import Any

from dash import dcc, html

from studio import auth


def _fmt(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


# plain words for params whose names read as code (an operator's own `title` comes first)
TITLES = {
    "null_values": "Values that mean “missing”",
    "bad_rows": "Rows that cannot be read",
    "hash_bits": "Size of the hashed feature space (bits)",
    "min_gain": "Smallest gain worth keeping",
    "max_candidates": "Most candidate features to try",
    "max_crosses": "Most feature crosses",
    "max_order": "Most columns in one cross",
    "sample_rows": "Rows sampled to choose features",
    "time_limit": "Time limit (seconds)",
    "on_error": "When a value cannot be converted",
    "per_column": "Fill value per column",
    "order_by": "Keep first by",
    "positive": "Positive class",
    "label": "Label column (what to predict)",
    "exclude": "Columns to leave out",
    "keep": "Columns to keep",
    "drop": "Columns to drop",
    "rename": "Rename columns",
    "seed": "Random seed",
    "header": "The first line holds column names",
    "infer_schema": "Guess column types",
    "schema": "Column types",
}
EMPTY_TEXT = "(empty)"  # how an empty string shows in a list of values


def title_of(p: dict[str, Any]) -> str:
    """A parameter's label in plain words."""
    return p.get("title") or TITLES.get(p["name"]) or p["name"].replace("_", " ").capitalize()


def _type(p: dict[str, Any]) -> str:
    return p["type"][0] if isinstance(p["type"], list) else p["type"]


def _widget(p: dict[str, Any]) -> str:
    ptype = _type(p)
    strings = ptype == "array" and (p.get("items") or {}).get("type") == "string"
    if strings and p.get("x-widget") in (None, "json"):
        return "strings"
    default = {"boolean": "checkbox", "number": "number", "integer": "number"}.get(ptype, "json")
    return p.get("x-widget") or default


class Field:
    """What every control needs: the param, its current value, the node's input columns."""

    def __init__(self, node_id: str, p: dict[str, Any], value: Any, columns: list[str]):
        self.node_id, self.p, self.columns = node_id, p, columns
        self.current = value if value is not None else p.get("default")
        self.required = bool(p.get("required"))

    def pid(self, kind: str) -> dict[str, str]:
        return {"type": "param", "node": self.node_id, "name": self.p["name"], "kind": kind}


def _checkbox(f: Field) -> Any:
    return dcc.Checklist(
        id=f.pid("bool"),
        options=[{"label": " " + title_of(f.p), "value": "on"}],
        value=["on"] if f.current else [],
        className="check",
    )


def _select(f: Field) -> Any:
    if not f.p.get("enum"):
        return _text(f)
    return dcc.Dropdown(
        id=f.pid("json"),
        options=[{"label": str(v), "value": json.dumps(v)} for v in f.p["enum"] if v is not None],
        value=json.dumps(f.current) if f.current is not None else None,
        clearable=not f.required,
        placeholder="(default)" if not f.required else "choose…",
    )


def _number(f: Field) -> Any:
    p, cur = f.p, f.current
    attrs: dict[str, Any] = {}
    for key, attr in (("minimum", "min"), ("exclusiveMinimum", "min")):
        if p.get(key) is not None:
            attrs[attr] = p[key]
    for key, attr in (("maximum", "max"), ("exclusiveMaximum", "max")):
        if p.get(key) is not None:
            attrs[attr] = p[key]
    integer = _type(p) == "integer"
    return dcc.Input(
        id=f.pid("int" if integer else "number"),
        type="number",
        value=cur if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None,
        placeholder=str(cur) if isinstance(cur, str) else "",
        step=1 if integer else "any",
        debounce=True,
        className="field",
        **attrs,
    )


def _column(f: Field) -> Any:
    cur = f.current
    opts = list(f.columns)
    if isinstance(cur, str) and cur and cur not in opts:
        opts.append(cur)
    return dcc.Dropdown(
        id=f.pid("text"),
        options=[{"label": c, "value": c} for c in opts],
        value=cur if isinstance(cur, str) else None,
        placeholder="choose a column…" if f.columns else "link an input to list its columns",
        clearable=not f.required,
    )


def _columns(f: Field) -> Any:
    cur = f.current if isinstance(f.current, list) else []
    opts = list(f.columns) + [c for c in cur if isinstance(c, str) and c not in f.columns]
    return dcc.Dropdown(
        id=f.pid("list"),
        options=[{"label": c, "value": c} for c in opts],
        value=cur,
        multi=True,
        placeholder="choose columns…" if f.columns else "link an input to list its columns",
    )


def _code(f: Field) -> Any:
    value = f.current if isinstance(f.current, str) else ""
    return dcc.Textarea(id=f.pid("text"), value=value, className="code", spellCheck=False)


def _features(f: Field) -> Any:
    current = f.current if isinstance(f.current, list) else []
    return features_summary(f.node_id, f.p["name"], current)


def strings_text(values: Any) -> str:
    """A list of strings as the text of its field: comma-separated, "" as (empty)."""
    if not isinstance(values, list):
        return "" if values is None else str(values)
    return ", ".join(EMPTY_TEXT if v == "" else str(v) for v in values)


def _strings(f: Field) -> Any:
    return dcc.Input(
        id=f.pid("strings"),
        type="text",
        value=strings_text(f.current),
        debounce=True,
        className="field",
        placeholder="values separated by commas",
    )


def _json(f: Field) -> Any:
    text = "" if f.current is None else _fmt(f.current)
    return dcc.Textarea(id=f.pid("json"), value=text, className="code", spellCheck=False)


def _text(f: Field) -> Any:
    cur = f.current
    return dcc.Input(
        id=f.pid("text"),
        type="text",
        value=cur if isinstance(cur, str) else ("" if cur is None else str(cur)),
        debounce=True,
        className="field",
        placeholder="(empty)" if not f.required else "required",
    )


CONTROLS = {
    "checkbox": _checkbox,
    "select": _select,
    "number": _number,
    "column": _column,
    "columns": _columns,
    "code": _code,
    "features": _features,
    "strings": _strings,
    "json": _json,
    "mapping": _json,
}
STRINGS_HELP = f"Separate values with commas; {EMPTY_TEXT} stands for an empty field."


def _browse(node_id: str, name: str) -> html.Button:
    return html.Button(
        "Browse…",
        id={"type": "browse", "node": node_id, "name": name},
        className="btn small",
        n_clicks=0,
        disabled=not auth.can("edit"),
        title=auth.why_not("edit") or "Pick a file or folder in the workspace",
    )


def param_field(node_id: str, p: dict[str, Any], value: Any, columns: list[str]) -> html.Div:
    """One labelled input for one param; ids carry how the browser converts the value."""
    widget = _widget(p)
    f = Field(node_id, p, value, columns)
    maker = CONTROLS.get(widget)
    if maker is None:
        maker = _json if _type(p) in ("array", "object") else _text  # text, path
    children: list[Any] = []
    if widget != "checkbox":
        star = html.Span(" *", className="req") if f.required else None
        children.append(html.Label([title_of(p), star], className="plabel"))
    children.append(maker(f))
    if widget == "path":
        children.append(_browse(node_id, p["name"]))
    if p.get("description"):
        children.append(html.Div(p["description"], className="help"))
    if widget == "strings":
        children.append(html.Div(STRINGS_HELP, className="help"))
    return html.Div(children, className="param", id=f"param-{node_id}-{p['name']}")


def feature_editor_button(node_id: str, name: str) -> html.Button:
    """Opens the feature editor (studio/components/featureeditor.py) for this node."""
    return html.Button(
        "Open the feature editor…",
        id={"type": "fedit", "node": node_id, "name": name},
        n_clicks=0,
        className="btn small primary fedit-open",
        title="List the input's columns with their statistics and choose a kind for each",
    )


def features_summary(node_id: str, name: str, features: list[Any]) -> html.Div:
    """The feature configuration in the inspector: how many, a readable table, and the button
    that opens the wide editor."""
    defs = [f for f in features if isinstance(f, dict)]
    crosses = sum(1 for f in defs if f.get("kind") == "combine")
    count = (
        f"{len(defs)} feature{'s' if len(defs) != 1 else ''}"
        + (f" ({crosses} cross{'es' if crosses != 1 else ''})" if crosses else "")
        if defs
        else "No features yet: open the editor to choose them from the input's columns."
    )
    return html.Div(
        [
            feature_editor_button(node_id, name),
            html.Div(count, className="muted small fcount"),
            features_table(defs) if defs else None,
        ],
        className="fsummary",
        id=f"fsummary-{node_id}-{name}",
    )


def _feature_cells(f: dict[str, Any]) -> list[Any]:
    if f.get("kind") == "combine":
        what = " × ".join(str(m.get("column", "?")) for m in f.get("of", []) if isinstance(m, dict))
    else:
        what = str(f.get("column", ""))
    if f.get("name"):
        what += f" (as {f['name']})"
    extra = {k: v for k, v in f.items() if k not in ("kind", "column", "of", "name")}
    options = " · ".join(
        f"{k.replace('_', ' ')} {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in extra.items()
    )
    return [f.get("kind", ""), what, options]


def features_table(features: list[dict[str, Any]]) -> html.Table:
    """A readable table of a feature configuration (kind, column or crossed columns with the
    feature's name, its options), narrow enough for the inspector."""
    rows = [
        html.Tr([html.Td(c) for c in _feature_cells(f)]) for f in features if isinstance(f, dict)
    ]
    head = html.Tr(
        [
            html.Th("kind", style={"width": "28%"}),
            html.Th("column(s)", style={"width": "40%"}),
            html.Th("options"),
        ]
    )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="ftable")
