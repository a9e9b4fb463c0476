"""The repository's own promises: every design decision the code or the docs cite exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_cited_design_decision_exists() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    section = design.split("## Decisions", 1)[1]
    numbered = {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)}
    assert numbered == set(range(1, len(numbered) + 1))
    cited: list[tuple[str, int]] = []
    for path in [*ROOT.glob("*/*.py"), *ROOT.glob("*/*/*.py"), *ROOT.glob("docs/*.md")]:
        if ".venv" in path.parts or path.name == "design.md":
            continue
        text = path.read_text(errors="replace")
        pattern = r"design(?:\.md|\]\(design\.md\))\s+decision\s+(\d+)"
        for n in re.findall(pattern, text, re.IGNORECASE):
            cited.append((str(path.relative_to(ROOT)), int(n)))
    assert cited, "the code cites its design decisions"
    missing = [(where, n) for where, n in cited if n not in numbered]
    assert not missing, f"cited decisions that docs/design.md does not have: {missing}"
