"""`seer users add|list|remove|passwd` and `seer audit`: the studio's users and the audit log."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape

from engine import audit
from engine.users import ROLES, UserError, Users, check_password

EXIT_OK, EXIT_INVALID = 0, 2
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_WORKSPACE_HELP = "workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"


class _NoPassword(Exception):
    pass


def _read_password(args: argparse.Namespace, name: str) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _NoPassword(
            "No terminal to ask for the password: pipe it in with --password-stdin, e.g. "
            f'printf "%s\\n" "$PASSWORD" | seer users {args.action} {name} --password-stdin'
        )
    first = getpass.getpass(f"Password for {name}: ")
    check_password(first)
    if getpass.getpass("Repeat it: ") != first:
        raise UserError("The two passwords differ; nothing was changed.")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    users = Users(ws.store)
    actor = audit.cli_actor()
    name = getattr(args, "name", None)
    try:
        if args.action == "list":
            rows = users.list()
            if args.json:
                print(json.dumps([{"name": u["name"], "role": u["role"]} for u in rows], indent=1))
            elif not rows:
                _err.print(
                    "No users: the studio runs in single-user mode on 127.0.0.1. Add one with "
                    "`seer users add NAME --role admin`."
                )
            else:
                out = Console(highlight=False)
                for u in rows:
                    changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(u["updated_at"]))
                    out.print(f"{escape(u['name']):<24} {u['role']:<10} [dim]{changed}[/]")
            return EXIT_OK
        if args.action == "add":
            users.add(name, args.role, _read_password(args, name))
            audit.record(ws.store, actor, "user.add", detail=f"{name} as {args.role}")
            _err.print(f"[green]✓[/] added {escape(name)} ({args.role})")
        elif args.action == "remove":
            users.remove(name)
            audit.record(ws.store, actor, "user.remove", detail=name)
            _err.print(f"[green]✓[/] removed {escape(name)}")
        elif args.action == "passwd":
            users.require(name)
            users.set_password(name, _read_password(args, name))
            audit.record(ws.store, actor, "user.passwd", detail=name)
            _err.print(f"[green]✓[/] changed the password of {escape(name)}")
    except (UserError, _NoPassword) as exc:
        if args.action != "list" and isinstance(exc, UserError):
            audit.record(
                ws.store, actor, f"user.{args.action}", outcome="failed", detail=f"{name}: {exc}"
            )
        _err.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_INVALID
    except (KeyboardInterrupt, EOFError):
        _err.print("[yellow]Cancelled; nothing was changed.[/]")
        return EXIT_INVALID
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from engine.workspace import Workspace

    if args.limit < 1:
        _err.print(f"[red]error:[/] --limit must be at least 1. Got {args.limit}.")
        return EXIT_INVALID
    ws = Workspace(args.workspace)
    rows = audit.entries(ws.store, args.limit)
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    if not rows:
        _err.print("The audit log is empty.")
        return EXIT_OK
    out = Console(highlight=False, soft_wrap=True)
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["ts"]))
        what = " ".join(
            x
            for x in (
                r["flow"] and f"flow {r['flow']}",
                r["model"]
                and f"model {r['model']}" + (f" v{r['version']}" if r["version"] else ""),
                r["run_id"] and f"run {r['run_id']}",
                r["detail"],
            )
            if x
        )
        colour = {"ok": "green", "denied": "red", "failed": "yellow"}.get(r["outcome"], "")
        out.print(
            f"{when}  {escape(r['actor']):<20} {r['action']:<14} "
            f"[{colour}]{r['outcome']:<6}[/] {escape(what)}"
        )
    return EXIT_OK


def add_commands(sub: Any) -> None:
    up = sub.add_parser("users", help="studio users and roles: add, list, remove, passwd")
    usub = up.add_subparsers(dest="action", required=True)
    ua = usub.add_parser("add", help="add a user with a role")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=ROLES)
    ul = usub.add_parser("list", help="list the users and their roles")
    ul.add_argument("--json", action="store_true")
    ur = usub.add_parser("remove", help="remove a user (its sessions end)")
    ur.add_argument("name")
    upw = usub.add_parser("passwd", help="change a user's password (its sessions end)")
    upw.add_argument("name")
    for p in (ua, upw):
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin (for scripts)",
        )
    for p in (ua, ul, ur, upw):
        p.add_argument("--workspace", help=_WORKSPACE_HELP)
    up.set_defaults(func=cmd_users)

    ap = sub.add_parser("audit", help="the audit log: who did what, when (newest first)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--limit", type=int, default=100, help="entries to show (default 100)")
    ap.add_argument("--workspace", help=_WORKSPACE_HELP)
    ap.set_defaults(func=cmd_audit)
