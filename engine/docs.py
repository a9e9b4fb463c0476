"""The operator reference, generated from the operator specs (docs/operators.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.spec import MISSING, Operator


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def operators_markdown(ops: Iterable[Operator]) -> str:
    ops = sorted(ops, key=lambda o: (o.category, o.id))
    lines = [
        "# Operator reference",
        "",
        "Generated from the operator specs by `seer operators --markdown`; do not edit by hand.",
        "",
    ]
    for op in ops:
        lines += [
            f"## `{op.id}` — {op.title}",
            "",
            f"*Category:* {op.category} · *version* {op.version}",
            "",
        ]
        if op.description:
            lines += [op.description, ""]
        for label, ports in (("Inputs", op.inputs), ("Outputs", op.outputs)):
            if ports:
                lines.append(
                    f"**{label}:** "
                    + "; ".join(
                        f"`{p.name}` ({p.type}{', several links' if p.multiple else ''}"
                        f"{', optional' if p.optional else ''}){' — ' + p.description if p.description else ''}"
                        for p in ports
                    )
                )
                lines.append("")
        if op.params:
            lines += ["| param | type | default | description |", "|---|---|---|---|"]
            for p in op.params:
                if p.required:
                    default = "**required**"
                elif p.default is not MISSING:
                    default = f"`{json.dumps(p.default)}`"
                else:
                    default = "not set"
                lines.append(
                    f"| `{p.name}` | {_cell(p.describe())} | {_cell(default)} | {_cell(p.description)} |"
                )
            lines.append("")
    return "\n".join(lines)
