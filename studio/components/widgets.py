"""Small layout helpers shared by the components."""

from __future__ import annotations

from dash import html


def button(label: str, bid: str, title: str = "", cls: str = "btn") -> html.Button:
    return html.Button(label, id=bid, n_clicks=0, className=cls, title=title)
