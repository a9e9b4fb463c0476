"""The `seer` entry point: builds the parser from the ``seer.commands`` entry points and runs
one command. Errors the user can fix are one sentence on stderr, exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from seer_cli.common import usage_error

ENTRY_POINT_GROUP = "seer.commands"
#: the order of the command groups in `seer --help`; other groups follow by name
_ORDER = ("flows", "models", "users", "studio")

log = logging.getLogger(__name__)


def command_groups() -> list[tuple[str, Callable[[Any], None]]]:
    """The installed command groups: (entry point name, function adding subcommands)."""
    eps = sorted(
        entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (_ORDER.index(ep.name) if ep.name in _ORDER else len(_ORDER), ep.name),
    )
    groups = []
    for ep in eps:
        try:
            groups.append((ep.name, ep.load()))
        except Exception as exc:  # a broken pack must not take the command line down
            log.warning("seer command group %s could not be loaded: %s", ep.name, exc)
    return groups


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seer", description="Seer: visual machine-learning flows on Spark."
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log engine details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for _, add_commands in command_groups():
        add_commands(sub)
    return parser


#: commands that need a writable workspace before they start (`run` opens it after the flow
#: is checked, `runs` only lists an existing one)
_OPENS_WORKSPACE = {"serve", "models", "score", "studio"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    try:
        if args.command in _OPENS_WORKSPACE:
            from engine.workspace import Workspace

            # fails early on a read-only or full workspace; marks runs whose process died
            # interrupted and removes what they left half-written
            Workspace(getattr(args, "workspace", None)).store  # noqa: B018
        return int(args.func(args) or 0)
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:
        message = _write_problem(exc, getattr(args, "workspace", None))
        if message is None:
            raise
        log.debug("write failure", exc_info=True)
        return usage_error(message)


def _write_problem(exc: BaseException, workspace: str | None) -> str | None:
    """A read-only or full disk (or a store that cannot be used) as one sentence; None when
    the error is something else."""
    from engine.diskerrors import write_failure_sentence
    from engine.store import StoreError
    from engine.workspace import Workspace

    if isinstance(exc, StoreError):
        return str(exc)
    return write_failure_sentence(exc, Workspace(workspace).root)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
