"""Small layout helpers shared by the components."""

from __future__ import annotations

from typing import Any

from dash import html


def button(label: str, bid: str, title: str = "", cls: str = "btn") -> html.Button:
    return html.Button(label, id=bid, n_clicks=0, className=cls, title=title)


def number(v: Any) -> str:
    """A number as people read it: thousands separated, a few significant digits, no
    exponent unless the number is very large or very small (189,778 rather than 1.898e+05)."""
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    a = abs(v)
    if a == 0 or v != v:  # zero, NaN
        return "0" if a == 0 else "NaN"
    if a >= 1e15 or a < 1e-4:
        return f"{v:.3g}"
    if a >= 1000:
        return f"{v:,.0f}"
    digits = 2 if a >= 1 else 4
    return f"{v:,.{digits}f}".rstrip("0").rstrip(".")
