"""The loop from the command line: `seer models check | compare | shadow` and `seer scheduler`."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.markup import escape

from seer_cli.common import EXIT_FAILED, EXIT_OK
from seer_cli.common import err as _err
from seer_cli.common import usage_error as _usage_error

_WORKSPACE_HELP = "workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def cmd_check(args: argparse.Namespace) -> int:
    from engine.retrain import check
    from engine.workspace import Workspace

    try:
        doc = check(Workspace(args.workspace), args.name, force=args.retrain_now)
    except ValueError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        for a in doc["alerts"]:
            _err.print(f"[yellow]⚠ {escape(a.get('kind', ''))}[/] {escape(_alert_text(a))}")
        run = doc["retrain"]
        if run is not None:
            colour = "green" if run["status"] == "succeeded" else "red"
            _err.print(
                f"[{colour}]retrain {escape(str(run['status']))}[/] run {run['run_id']} → "
                f"version {run['version']}"
            )
        if doc["comparison"]:
            _print_versions(doc["comparison"])
        _err.print(f"[bold]{doc['decision'] or 'no decision'}[/]: {escape(doc['reason'])}")
    failed = doc["retrain"] is not None and doc["retrain"]["status"] != "succeeded"
    return EXIT_FAILED if failed else EXIT_OK


def _alert_text(alert: dict[str, Any]) -> str:
    if alert.get("message"):
        return str(alert["message"])
    return ", ".join(f"{k}={v}" for k, v in alert.items() if k != "kind")


def _print_versions(result: dict[str, Any]) -> None:
    w = result["window"]
    _err.print(
        f"{escape(result['model'])} on {w['rows']} labeled predictions "
        f"{w['start'] or '-'} … {w['end'] or '-'} ({escape(w['chosen'])})"
    )
    _err.print(f"  {'version':<14}{'role':<12}{'auc':>8}{'ks':>8}{'logloss':>9}{'rows':>7}")
    for version, m in result["versions"].items():
        _err.print(
            f"  {version:<14}{m['role']:<12}{_fmt(m['auc']):>8}{_fmt(m['ks']):>8}"
            f"{_fmt(m['logloss']):>9}{m['rows']:>7}"
        )


def cmd_compare(args: argparse.Namespace) -> int:
    from engine.challenger import compare_versions
    from engine.model_registry import RegistryError
    from engine.workspace import Workspace

    try:
        doc = compare_versions(Workspace(args.workspace), args.name, args.v1, args.v2, args.metric)
    except RegistryError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    _print_versions(doc)
    if doc["gain"] is not None:
        _err.print(f"  {args.v2} vs {args.v1}: {doc['metric']} {doc['gain']:+.4f}")
    _err.print("live (what each version scored, against the feedback received):")
    for version, m in doc["live"].items():
        _err.print(
            f"  {version:<14}{'':<12}{_fmt(m['auc']):>8}{_fmt(m['ks']):>8}"
            f"{_fmt(m['logloss']):>9}{m['labeled']:>7} labeled of {m['predictions']}"
        )
    for rec in doc["recorded"][:5]:
        _err.print(f"  recorded {rec['at']}: gain {_fmt(rec.get('gain'))} ({rec['metric']})")
    return EXIT_OK


def cmd_shadow(args: argparse.Namespace) -> int:
    from engine.model_registry import ModelRegistry, RegistryError
    from engine.workspace import Workspace

    if (args.version is None) == (not args.off):
        return _usage_error("Give a VERSION to mirror traffic to, or --off to end the shadow.")
    registry = ModelRegistry(Workspace(args.workspace))
    try:
        registry.shadow(args.name, None if args.off else args.version)
    except RegistryError as exc:
        return _usage_error(str(exc))
    if args.off:
        _err.print(f"[green]✓[/] {escape(args.name)}: no shadow version")
    else:
        _err.print(
            f"[green]✓[/] {escape(args.name)}: every request is mirrored to version "
            f"{args.version} (its scores are logged, never returned)"
        )
    return EXIT_OK


def cmd_scheduler(args: argparse.Namespace) -> int:
    from engine.scheduler import Scheduler
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)

    def said(model: str, doc: dict[str, Any]) -> None:
        if doc.get("retrain") or doc.get("alerts") or doc.get("error"):
            run = doc.get("retrain") or {}
            why = f" retrain {run.get('status')}:" if run else ""
            line = (
                f"{model}:{why} {doc.get('decision') or 'no decision'}: "
                f"{doc.get('reason') or doc.get('error', '')}"
            )
            _err.print(f"{time.strftime('%H:%M:%S')} {escape(line)}")

    scheduler = Scheduler(ws, interval=args.interval, on_check=said, master=args.master)
    if args.once:
        scheduler.run_once()
        return EXIT_OK
    _err.print(
        f"[bold]seer scheduler[/] · workspace {escape(str(ws.root))} · every {args.interval:g}s "
        "(Ctrl+C stops)"
    )
    scheduler.start()
    try:
        while scheduler.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        _err.print("stopping…")
    scheduler.stop()
    return EXIT_OK


def add_loop_model_commands(msub: Any) -> None:
    """`seer models check | compare | shadow`."""
    c = msub.add_parser(
        "check",
        help="evaluate NAME now: alerts, a due or triggered retrain, comparison, decision",
    )
    c.add_argument("name")
    c.add_argument(
        "--retrain-now", action="store_true", help="run the retraining flow now, due or not"
    )
    cmp_ = msub.add_parser(
        "compare", help="score two versions on the newest labeled traffic, with live metrics"
    )
    cmp_.add_argument("name")
    cmp_.add_argument("v1")
    cmp_.add_argument("v2")
    cmp_.add_argument("--metric", default="auc", choices=("auc", "ks", "logloss"))
    s = msub.add_parser(
        "shadow", help="mirror every request of NAME to VERSION (scores logged, never returned)"
    )
    s.add_argument("name")
    s.add_argument("version", nargs="?")
    s.add_argument("--off", action="store_true", help="stop mirroring")
    for p in (c, cmp_, s):
        p.add_argument("--workspace", help=_WORKSPACE_HELP)
        p.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_check)
    cmp_.set_defaults(func=cmd_compare)
    s.set_defaults(func=cmd_shadow)


def add_scheduler_command(sub: Any) -> None:
    """`seer scheduler`: the checks of every watched model, periodically, for servers."""
    p = sub.add_parser(
        "scheduler",
        help="check every watched model periodically: alerts, cron schedules, retraining",
    )
    p.add_argument("--interval", type=float, default=60.0, help="seconds between checks [60]")
    p.add_argument("--once", action="store_true", help="check every watched model once and end")
    p.add_argument("--master", help="Spark master URL for retrains (default as `seer run`)")
    p.add_argument("--workspace", help=_WORKSPACE_HELP)
    p.set_defaults(func=cmd_scheduler)
