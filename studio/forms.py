"""The inspector's parameter form, generated from an operator's spec (its widget hints)."""

from __future__ import annotations

import json
from typing import Any

from dash import dcc, html

from studio import auth


def _fmt(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def param_field(node_id: str, p: dict[str, Any], value: Any, columns: list[str]) -> html.Div:  # noqa: C901, PLR0912
    """One labelled input for one param; ids carry how the browser converts the value."""
    name = p["name"]
    widget = p.get("x-widget") or {
        "boolean": "checkbox",
        "number": "number",
        "integer": "number",
    }.get(p["type"][0] if isinstance(p["type"], list) else p["type"], "json")
    ptype = p["type"][0] if isinstance(p["type"], list) else p["type"]
    has = value is not None
    current = value if has else p.get("default")
    required = p.get("required")

    def pid(kind: str) -> dict[str, str]:
        return {"type": "param", "node": node_id, "name": name, "kind": kind}

    if widget == "checkbox":
        control = dcc.Checklist(
            id=pid("bool"),
            options=[{"label": " " + (p.get("title") or name), "value": "on"}],
            value=["on"] if current else [],
            className="check",
        )
    elif widget == "select" and p.get("enum"):
        control = dcc.Dropdown(
            id=pid("json"),
            options=[{"label": str(v), "value": json.dumps(v)} for v in p["enum"] if v is not None],
            value=json.dumps(current) if current is not None else None,
            clearable=not required,
            placeholder="(default)" if not required else "choose…",
        )
    elif widget == "number":
        attrs: dict[str, Any] = {}
        if p.get("minimum") is not None:
            attrs["min"] = p["minimum"]
        if p.get("exclusiveMinimum") is not None:
            attrs["min"] = p["exclusiveMinimum"]
        if p.get("maximum") is not None:
            attrs["max"] = p["maximum"]
        if p.get("exclusiveMaximum") is not None:
            attrs["max"] = p["exclusiveMaximum"]
        control = dcc.Input(
            id=pid("int" if ptype == "integer" else "number"),
            type="number",
            value=current
            if isinstance(current, (int, float)) and not isinstance(current, bool)
            else None,
            placeholder=str(current) if isinstance(current, str) else "",
            step="any" if ptype == "number" else 1,
            debounce=True,
            className="field",
            **attrs,
        )
    elif widget == "column":
        opts = list(columns)
        if isinstance(current, str) and current and current not in opts:
            opts.append(current)
        control = dcc.Dropdown(
            id=pid("text"),
            options=[{"label": c, "value": c} for c in opts],
            value=current if isinstance(current, str) else None,
            placeholder="choose a column…" if columns else "link an input to list its columns",
            clearable=not required,
        )
    elif widget == "columns":
        opts = list(columns)
        cur = current if isinstance(current, list) else []
        opts += [c for c in cur if isinstance(c, str) and c not in opts]
        control = dcc.Dropdown(
            id=pid("list"),
            options=[{"label": c, "value": c} for c in opts],
            value=cur,
            multi=True,
            placeholder="choose columns…" if columns else "link an input to list its columns",
        )
    elif widget == "code":
        control = dcc.Textarea(
            id=pid("text"),
            value=current if isinstance(current, str) else "",
            className="code",
            spellCheck=False,
        )
    elif widget == "features":
        control = features_editor(
            node_id, name, current if isinstance(current, list) else [], columns
        )
    elif widget in ("json", "mapping") or ptype in ("array", "object"):
        text = "" if current is None else _fmt(current)
        control = dcc.Textarea(
            id=pid("json"),
            value=text,
            className="code" + (" tall" if widget == "features" else ""),
            spellCheck=False,
        )
    else:  # text, path
        control = dcc.Input(
            id=pid("text"),
            type="text",
            value=current
            if isinstance(current, str)
            else ("" if current is None else str(current)),
            debounce=True,
            className="field",
            placeholder="(empty)" if not required else "required",
        )
    label_text = p.get("title") or name
    children: list[Any] = []
    if widget != "checkbox":
        children.append(
            html.Label(
                [label_text, html.Span(" *", className="req") if required else None],
                className="plabel",
            )
        )
    children.append(control)
    if widget == "path":
        children.append(
            html.Button(
                "Browse…",
                id={"type": "browse", "node": node_id, "name": name},
                className="btn small",
                n_clicks=0,
                disabled=not auth.can("edit"),
                title=auth.why_not("edit") or "Pick a file or folder in the workspace",
            )
        )
    if p.get("description"):
        children.append(html.Div(p["description"], className="help"))
    return html.Div(children, className="param", id=f"param-{node_id}-{name}")


KINDS = ["continuous", "discrete", "bucket", "combine", "datetime"]
_SHOWN = ("kind", "column", "with", "buckets", "transform", "name")


def _member_text(m: dict[str, Any]) -> str:
    if m.get("kind") == "bucket" and m.get("buckets"):
        return f"{m.get('column')}/{m['buckets']}"
    return str(m.get("column", ""))


def feature_rows(features: list[Any]) -> list[dict[str, Any]]:
    """Feature definitions as editable table rows (unknown keys kept in `_extra`)."""
    rows = []
    for f in features:
        if not isinstance(f, dict):
            continue
        kind = f.get("kind", "")
        row: dict[str, Any] = {
            "kind": kind,
            "column": f.get("column", ""),
            "with": "",
            "buckets": None,
        }
        row["transform"] = ""
        row["name"] = f.get("name", "")
        extra = {
            k: v
            for k, v in f.items()
            if k not in ("kind", "column", "name", "of", "buckets", "transform", "parts")
        }
        if kind == "continuous":
            t = f.get("transform", [])
            row["transform"] = ", ".join(t) if isinstance(t, list) else str(t or "")
        elif kind == "bucket":
            row["buckets"] = f.get("buckets")
        elif kind == "datetime":
            row["transform"] = ", ".join(f.get("parts") or [])
        elif kind == "combine":
            members = [m for m in f.get("of", []) if isinstance(m, dict)]
            row["column"] = _member_text(members[0]) if members else ""
            row["with"] = ", ".join(_member_text(m) for m in members[1:])
            extra["of"] = members
        row["_extra"] = json.dumps(extra) if extra else ""
        rows.append(row)
    return rows


def features_editor(node_id: str, name: str, features: list[Any], columns: list[str]) -> html.Div:
    """The feature configuration as a table: one row per feature, kinds and columns picked from
    lists; crosses name their members in `with` (`age/5` = age in 5 buckets)."""
    from dash import dash_table

    col_opts = [{"label": c, "value": c} for c in columns]
    table = dash_table.DataTable(
        id={"type": "ftable", "node": node_id, "name": name},
        data=feature_rows(features),
        columns=[
            {"name": "kind", "id": "kind", "presentation": "dropdown"},
            {"name": "column", "id": "column", "presentation": "dropdown" if columns else "input"},
            {"name": "with (cross)", "id": "with"},
            {"name": "buckets", "id": "buckets", "type": "numeric"},
            {"name": "transform / parts", "id": "transform"},
            {"name": "name", "id": "name"},
        ],
        dropdown={
            "kind": {"options": [{"label": k, "value": k} for k in KINDS], "clearable": False},
            "column": {"options": col_opts},
        },
        editable=True,
        row_deletable=True,
        style_table={"overflowX": "auto"},
        style_cell={
            "fontSize": 11.5,
            "padding": "2px 4px",
            "minWidth": 60,
            "fontFamily": "Inter, system-ui, sans-serif",
        },
        style_header={"fontWeight": "600", "backgroundColor": "#f3f4f6"},
        css=[
            {"selector": ".Select-menu-outer", "rule": "display: block !important; z-index: 1000;"}
        ],
    )
    return html.Div(
        [
            table,
            html.Button(
                "+ Add feature",
                id={"type": "fadd", "node": node_id, "name": name},
                n_clicks=0,
                className="btn small",
            ),
            html.Div(
                "continuous: transform = clip, log1p, standardize · bucket: buckets (quantiles) · "
                "combine: column × the columns in 'with' (age/5 = age in 5 buckets) · datetime: parts = "
                "year, month, day, weekday, hour.",
                className="help",
            ),
        ]
    )


def features_table(features: list[dict[str, Any]]) -> html.Table:
    """A readable table of a feature configuration next to its JSON."""
    rows = []
    for f in features:
        if not isinstance(f, dict):
            continue
        if f.get("kind") == "combine":
            what = " × ".join(
                str(m.get("column", "?")) for m in f.get("of", []) if isinstance(m, dict)
            )
        else:
            what = str(f.get("column", ""))
        extra = {k: v for k, v in f.items() if k not in ("kind", "column", "of", "name")}
        rows.append(
            html.Tr(
                [
                    html.Td(f.get("kind", "")),
                    html.Td(what),
                    html.Td(", ".join(f"{k}={v}" for k, v in extra.items())),
                    html.Td(f.get("name", "")),
                ]
            )
        )
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [html.Th("kind"), html.Th("column(s)"), html.Th("options"), html.Th("name")]
                )
            ),
            html.Tbody(rows),
        ],
        className="ftable",
    )
