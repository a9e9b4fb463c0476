"""`seer models watch` (a model's alert rules and retraining policy), `seer models monitor`
(its monitoring windows) and `seer models alerts` (the alerts raised)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from seer_cli.common import EXIT_OK
from seer_cli.common import err as _err
from seer_cli.common import usage_error as _usage_error

_ALERT_OPTIONS = {
    "psi": "psi",
    "score_psi": "score_psi",
    "auc_drop": "auc_drop",
    "min_labeled": "min_labeled",
    "error_rate": "error_rate",
    "p99_ms": "p99_ms",
    "webhook": "webhook",
    "window": "window",
}
_RETRAIN_OPTIONS = {
    "schedule": "schedule",
    "min_gain": "min_gain",
    "metric": "metric",
    "canary": "canary",
}


def _given(args: argparse.Namespace, names: dict[str, str]) -> dict[str, Any]:
    return {key: getattr(args, opt) for opt, key in names.items() if getattr(args, opt) is not None}


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f'--param "{pair}" is not KEY=VALUE (e.g. --param since=2026-01-01).')
        out[key.strip()] = value
    return out


def _retrain_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes = _given(args, _RETRAIN_OPTIONS)
    if args.retrain is not None:
        flow = Path(args.retrain).expanduser().resolve()
        if not flow.is_file():
            raise ValueError(f"--retrain {args.retrain}: no such flow file.")
        changes["flow"] = str(flow)
    if args.param:
        changes["params"] = _params(args.param)
    if args.on_drift is not None:
        changes["on_drift"] = args.on_drift
    if args.no_retrain:
        changes.update(flow=None, schedule=None, on_drift=False, params={})
    return changes


def cmd_watch(args: argparse.Namespace) -> int:
    from engine.model_registry import ModelRegistry
    from engine.monitoring.policy import PolicyError, WatchPolicies
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    if not any(r.name == args.name for r in ModelRegistry(ws).routes()):
        return _usage_error(
            f'No model named "{args.name}" is published; `seer models list` shows the names.'
        )
    policies = WatchPolicies(ws)
    try:
        policy = policies.update(
            args.name, alerts=_given(args, _ALERT_OPTIONS), retrain=_retrain_changes(args)
        )
    except (PolicyError, ValueError) as exc:
        return _usage_error(str(exc))
    doc = policy.to_json()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _err.print(f"[green]✓[/] watching {escape(args.name)}")
        for part in ("alerts", "retrain"):
            shown = ", ".join(f"{k}={v}" for k, v in doc[part].items() if v not in (None, {}))
            _err.print(f"  {part}: {escape(shown)}")
    return EXIT_OK


def _fmt(value: Any, digits: str = ".3f") -> str:
    return "-" if value is None else format(value, digits)


def _window_row(win: dict[str, Any]) -> list[str]:
    top = sorted(win["features"].items(), key=lambda kv: -kv[1]["psi"])[:2]
    drift = ", ".join(f"{k} {v['psi']:.2f}" for k, v in top) or "-"
    version = f"{win['version']}{' (shadow)' if win['shadow'] else ''}"
    return [
        win["start"][:16].replace("T", " "),
        version,
        str(win["requests"]),
        str(win["errors"]),
        _fmt(win["latency_ms"]["p50"], ".1f"),
        _fmt(win["latency_ms"]["p99"], ".1f"),
        _fmt(win["score_psi"]),
        drift,
        str(win["labeled"]),
        _fmt(win.get("auc")),
    ]


def _print_monitoring(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{doc['model']}: monitoring (UTC windows)", title_justify="left")
    for col in (
        "window",
        "version",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "score PSI",
        "top drift (PSI)",
        "labeled",
        "live AUC",
    ):
        table.add_column(col, justify="left" if col in ("window", "top drift (PSI)") else "right")
    for win in doc["windows"]:
        table.add_row(*[escape(c) for c in _window_row(win)])
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)  # a pipe or a file: no wrapping at 80
    console.print(table)
    if not doc["windows"]:
        _err.print("no logged requests in these windows")
    _print_alerts(doc["alerts"][:10])


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    for a in alerts:
        out.print(
            f"[red]●[/] {escape(a['time'])} {escape(a['model'])} v{a['version']} {a['kind']}: "
            f"{escape(a['measure'])} = {a['value']:.4g} (threshold {a['threshold']:.4g}), "
            f"window {a['window']['start']} ({a['window']['length']}), "
            f"webhook {a['delivery']['status']}"
        )


def _known_model(ws: Any, name: str) -> bool:
    from engine.model_registry import ModelRegistry

    return any(r.name == name for r in ModelRegistry(ws).routes())


def cmd_monitor(args: argparse.Namespace) -> int:
    from engine.monitoring.windows import MonitoringError, monitoring
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    if not _known_model(ws, args.name):
        return _usage_error(
            f'No model named "{args.name}" is published; `seer models list` shows the names.'
        )
    try:
        doc = monitoring(ws, args.name, args.window, args.since)
    except MonitoringError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_monitoring(doc)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    from engine.monitoring.records import list_alerts
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    if args.name is not None and not _known_model(ws, args.name):
        return _usage_error(
            f'No model named "{args.name}" is published; `seer models list` shows the names.'
        )
    alerts = list_alerts(ws, args.name)
    if args.json:
        print(json.dumps(alerts, indent=2))
    elif not alerts:
        _err.print("no alerts")
    else:
        _print_alerts(alerts)
    return EXIT_OK


def _add_monitor_commands(msub: Any) -> None:
    m = msub.add_parser(
        "monitor",
        help="NAME's monitoring windows: traffic, errors, latency, drift, live accuracy",
    )
    m.add_argument("name")
    m.add_argument("--window", default="1h", help="window length: 15m, 1h, 1d ... [1h]")
    m.add_argument("--since", help="ISO 8601 time of the first window [the last 24 windows]")
    m.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    m.add_argument("--json", action="store_true", help="the JSON GET .../monitoring answers")
    m.set_defaults(func=cmd_monitor)
    a = msub.add_parser("alerts", help="the alerts raised (of NAME, or of every model)")
    a.add_argument("name", nargs="?")
    a.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    a.add_argument("--json", action="store_true", help="a JSON list of alert records")
    a.set_defaults(func=cmd_alerts)


def add_model_commands(msub: Any) -> None:
    """`seer models watch|monitor|alerts ...` (added to the `seer models` command)."""
    _add_monitor_commands(msub)
    w = msub.add_parser(
        "watch",
        help="set NAME's alert rules and retraining policy (only the options given change)",
    )
    w.add_argument("name")
    a = w.add_argument_group("alerts (defaults in brackets)")
    a.add_argument("--psi", type=float, help="alert when any input column's PSI exceeds [0.25]")
    a.add_argument("--score-psi", type=float, help="alert when the score's PSI exceeds [0.25]")
    a.add_argument(
        "--auc-drop", type=float, help="alert when live AUC < validation AUC - this [0.05]"
    )
    a.add_argument(
        "--min-labeled", type=int, help="labeled predictions needed to judge accuracy [200]"
    )
    a.add_argument("--error-rate", type=float, help="alert above this share of errors [0.01]")
    a.add_argument("--p99-ms", type=float, help="alert when p99 latency exceeds this [250]")
    a.add_argument("--webhook", help="POST every alert as JSON to this URL")
    a.add_argument("--window", help="monitoring window: 15m, 1h, 1d, ... [1h]")
    r = w.add_argument_group("retraining")
    r.add_argument("--retrain", metavar="FLOW", help="the flow that retrains the model")
    r.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="a flow param (repeatable)"
    )
    r.add_argument(
        "--schedule", metavar="CRON", help='retrain on a cron schedule (UTC), e.g. "0 3 * * *"'
    )
    r.add_argument(
        "--on-drift",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="retrain when a drift or accuracy alert is raised",
    )
    r.add_argument("--min-gain", type=float, help="promote only if the challenger wins by [0.005]")
    r.add_argument("--metric", help="compare champion and challenger on auc, ks or logloss [auc]")
    r.add_argument("--canary", type=float, metavar="PERCENT", help="a winner goes to canary first")
    r.add_argument("--no-retrain", action="store_true", help="remove the retraining policy")
    w.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=cmd_watch)
