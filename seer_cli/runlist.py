"""`seer runs`: the workspace's runs as a table or as JSON, from the store alone."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.store import Store

_COLOURS = {"succeeded": "green", "failed": "red", "running": "cyan"}


def run_json(row: dict[str, Any]) -> dict[str, Any]:
    """A run as `seer runs --json` shows it."""
    end = row.get("finished_at")
    return {
        "run_id": row["run_id"],
        "flow_name": row["flow_name"],
        "flow_path": row.get("flow_path"),
        "status": row["status"],
        "started_at": row["started_at"],
        "finished_at": end,
        "seconds": None if end is None else round(float(end) - float(row["started_at"]), 3),
        "failed_node": row.get("failed_node"),
        "error": row.get("error"),
    }


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def print_runs(store: Store, limit: int, as_json: bool = False) -> None:
    runs = [run_json(r) for r in store.run_summaries(limit)]
    if as_json:
        print(json.dumps(runs, indent=1))
        return
    if not runs:
        Console(stderr=True).print("No runs in this workspace yet (`seer run FLOW`).")
        return
    table = Table(box=None)
    for name in ("run", "status", "flow", "started (UTC)", "duration", "failed node"):
        # ids and times stay whole (they are copied); names fold when the terminal is narrow
        table.add_column(name, no_wrap=name not in ("flow", "failed node"), overflow="fold")
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started_at"]))
        seconds = r["seconds"] if r["seconds"] is not None else time.time() - r["started_at"]
        colour = _COLOURS.get(r["status"], "yellow")
        table.add_row(
            r["run_id"],
            f"[{colour}]{r['status']}[/]",
            escape(r["flow_name"]),
            started,
            duration_text(seconds),
            escape(r["failed_node"] or ""),
        )
    # piped into a file or another program: whole lines, not the 80 columns of no terminal
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
