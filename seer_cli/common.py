"""What every command shares: exit codes, the stderr console, the usage-error sentence and
the --data-root option."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
#: human output goes to stderr; stdout is kept for --json documents
err = Console(stderr=True, highlight=False, soft_wrap=True)


def usage_error(message: str) -> int:
    err.print(f"[red]error:[/] {escape(message)}")
    return EXIT_INVALID


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the flow may read and write besides the workspace and the flow's own "
        "folder (repeatable; also $SEER_DATA_ROOTS)",
    )
