"""The model documentation as one self-contained HTML page (inline CSS and SVG, no script,
nothing fetched): what report.model writes."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")
CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#111;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}th{background:#f3f4f6}
td:first-child,th:first-child{text-align:left}.muted{color:#6b7280;font-size:.85rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.bar{fill:#2563eb}.neg{fill:#dc2626}
"""


def esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return esc(v)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def line_chart(
    title: str, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], diagonal: bool
) -> str:
    """An SVG chart of (x, y) series on [0, 1] x [0, 1]."""
    w, h, m = 300, 240, 30

    def pt(x: float, y: float) -> str:
        return f"{m + x * (w - 2 * m):.1f},{h - m - y * (h - 2 * m):.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13">{esc(title)}</text>',
        f'<rect x="{m}" y="{m}" width="{w - 2 * m}" height="{h - 2 * m}" fill="none" stroke="#999"/>',
    ]
    if diagonal:
        parts.append(f'<polyline points="{pt(0, 0)} {pt(1, 1)}" stroke="#bbb" fill="none"/>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        pts = " ".join(pt(float(x), float(y)) for x, y in zip(xs, ys, strict=False))
        parts.append(f'<polyline points="{pts}" stroke="{c}" fill="none" stroke-width="1.5"/>')
        parts.append(
            f'<text x="{m + 6}" y="{m + 16 + 14 * i}" font-size="11" fill="{c}">{esc(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """Horizontal bars (negative values to the left), e.g. WOE per bin or lift per decile."""
    w, row = 340, 16
    h = 24 + row * len(values)
    top = max((abs(v) for v in values), default=1.0) or 1.0
    mid, half = 190, 100
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 20}" height="{h}" role="img">',
        f'<text x="4" y="14" font-size="12">{esc(title)}</text>',
    ]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * row
        length = abs(v) / top * (half - 10)
        x = mid if v >= 0 else mid - length
        cls = "bar" if v >= 0 else "neg"
        parts.append(f'<text x="4" y="{y + 11}" font-size="10">{esc(str(lab)[:22])}</text>')
        parts.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{y + 2}" width="{length:.1f}" height="{row - 4}"/>'
        )
        parts.append(f'<text x="{mid + half}" y="{y + 11}" font-size="10">{v:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    toc = "".join(f'<li><a href="#s{i}">{esc(t)}</a></li>' for i, (t, _) in enumerate(sections))
    body = "".join(f'<h2 id="s{i}">{esc(t)}</h2>{b}' for i, (t, b) in enumerate(sections))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><ol>{toc}</ol>{body}</body></html>"
    )
