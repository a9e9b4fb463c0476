"""`seer run`, `validate`, `preview`, `runs`, `operators`, `sample-data`: flows from the
command line. Progress goes to stderr; `--json` puts one document on stdout.

Exit codes: 0 success, 1 the run failed (or was cancelled), 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from engine.flow import FlowError, Problem, analyze_flow, load_flow, prepare_flow
from engine.registry import load_registry
from seer_cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, add_data_root
from seer_cli.common import err as _err
from seer_cli.common import usage_error as _usage_error

log = logging.getLogger(__name__)

_ICONS = {
    "running": "[cyan]▶[/]",
    "succeeded": "[green]✓[/]",
    "cached": "[blue]•[/]",
    "failed": "[red]✗[/]",
    "skipped": "[yellow]-[/]",
    "cancelled": "[yellow]■[/]",
}


def _parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(_usage_error(f"--param takes NAME=VALUE. Got {item!r}."))
        out[name.strip()] = value
    return out


def _print_problems(err: FlowError) -> None:
    errors = [p for p in err.problems if p.severity == "error"]
    n = len(errors)
    _err.print(f"[red]{escape(err.source or 'flow')}: {n} problem{'s' if n != 1 else ''}[/]")
    for p in errors:
        where = f"[bold]{escape(p.node)}[/]: " if p.node else ""
        _err.print(f"  [red]✗[/] {where}{escape(p.message)}")
    _print_warnings(err.problems)


def _print_warnings(problems: list[Problem]) -> None:
    """Warnings (e.g. a model scored on its own training rows): said, but they fail nothing."""
    warnings = [p for p in problems if p.severity == "warning"]
    if warnings:
        n = len(warnings)
        _err.print(f"[yellow]{n} warning{'s' if n != 1 else ''}:[/]")
    for p in warnings:
        where = f"[bold]{escape(p.node)}[/]: " if p.node else ""
        _err.print(f"  [yellow]⚠[/] {where}{escape(p.message)}")


def _rows_text(rows: dict[str, int] | None) -> str:
    if not rows:
        return ""
    return "  " + ", ".join(f"{port}: {n:,} rows" for port, n in rows.items())


def _roots(args: argparse.Namespace, flow: Any, workspace: str | None) -> Any:
    """The data roots of a command: the workspace, the flow's folder, --data-root, $SEER_DATA_ROOTS."""
    from engine.dataroots import DataRoots
    from engine.workspace import Workspace

    folder = flow.path.parent if flow.path else None
    return DataRoots.for_flow(folder, Workspace(workspace).root, args.data_root)


def _progress(ev: Any) -> None:
    """One line on stderr per node event of a run (the engine sends events; the CLI prints)."""
    if ev.kind == "queued":
        return
    if ev.kind == "log":
        _err.print(f"    [dim]{escape(ev.node_id)}: {escape(ev.message or '')}[/]")
        return
    icon = _ICONS.get(ev.kind, " ")
    secs = f"  {ev.seconds:.1f}s" if ev.seconds else ""
    line = f"{icon} [bold]{escape(ev.node_id)}[/] [dim]({escape(ev.op)})[/] {ev.kind}{secs}"
    if ev.kind in ("succeeded", "cached"):
        line += _rows_text(ev.rows)
    if ev.error and ev.kind != "cancelled":
        line += (
            f"\n    [red]{escape(ev.error)}[/]"
            if ev.kind == "failed"
            else f"  [dim]{escape(ev.error)}[/]"
        )
    _err.print(line)


def _prepare_run(args: argparse.Namespace) -> tuple[Any, Any] | int:
    """The flow and its prepared form, or the exit code after printing why it cannot run."""
    try:
        overrides = _parse_params(args.param)
        flow = load_flow(args.flow)
        prepared = prepare_flow(
            flow, load_registry(), overrides, Path.cwd(), _roots(args, flow, args.workspace)
        )
    except FlowError as err:
        _print_problems(err)
        if args.json:
            problems = [p.to_json() for p in err.problems]
            doc = {"run_id": None, "status": "invalid", "nodes": {}, "problems": problems}
            print(json.dumps(doc))
        return EXIT_INVALID
    _print_warnings(prepared.warnings)
    for nid in [*args.force, *args.from_node, *([args.to] if args.to else [])]:
        if nid not in prepared.nodes:
            return _usage_error(
                f'The flow has no node "{nid}". Its nodes: {", ".join(prepared.order)}.'
            )
    return flow, prepared


def _wait(handle: Any, ws: Any, flow_name: str) -> Any:
    """The run's result; Ctrl-C cancels the run (and is audited) and still waits for it."""
    from engine import audit

    try:
        while not handle.done():
            time.sleep(0.1)
    except KeyboardInterrupt:
        _err.print("[yellow]Cancelling the run…[/]")
        handle.cancel()
        audit.record(
            ws.store, audit.cli_actor(), "run.cancel", flow=flow_name, run_id=handle.run_id
        )
    return handle.wait()


def _print_result(result: Any, seconds: float) -> None:
    counts: dict[str, int] = {}
    for r in result.nodes.values():
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    colour = {"succeeded": "green", "failed": "red"}.get(result.status, "yellow")
    _err.print(f"[{colour}]Run {result.run_id} {result.status}[/] in {seconds:.1f}s ({summary})")
    if result.status == "failed":
        for nid, r in result.nodes.items():
            if r.status == "failed":
                _err.print(f'[red]Node "{escape(nid)}" failed:[/] {escape(r.error or "")}')


def cmd_run(args: argparse.Namespace) -> int:
    from engine import audit
    from engine.runner import Runner, RunOptions
    from engine.workspace import Workspace

    ready = _prepare_run(args)
    if isinstance(ready, int):
        return ready
    flow, prepared = ready
    ws = Workspace(args.workspace)
    start = time.time()
    options = RunOptions(
        master=args.master,
        force=set(args.force),
        from_nodes=set(args.from_node),
        to_node=args.to,
        keep="all" if args.keep_all else "needed",
    )
    ws.store  # noqa: B018 - a read-only or full workspace is reported before anything runs
    _err.print(f"[bold]{escape(flow.name)}[/] · workspace {escape(str(ws.root))}")
    handle = Runner(ws, listeners=[_progress]).start(prepared, options)
    audit.record(ws.store, audit.cli_actor(), "run.start", flow=flow.name, run_id=handle.run_id)
    result = _wait(handle, ws, flow.name)
    _print_result(result, time.time() - start)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        overrides = _parse_params(args.param)
        flow = load_flow(args.flow)
        prepared, problems = analyze_flow(
            flow, load_registry(), overrides, Path.cwd(), _roots(args, flow, args.workspace)
        )
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise FlowError(problems, str(args.flow))
    except FlowError as err:
        if args.json:
            print(
                json.dumps(
                    {"valid": False, "problems": [p.to_json() for p in err.problems]}, indent=2
                )
            )
        _print_problems(err)
        return EXIT_INVALID
    if args.json:
        found = [p.to_json() for p in problems]
        print(json.dumps({"valid": True, "problems": found, "nodes": prepared.order}, indent=2))
    _err.print(
        f"[green]✓[/] {escape(str(args.flow))} is valid ({len(prepared.nodes)} nodes, "
        f"{len(flow.links)} links)."
    )
    _print_warnings(problems)
    return EXIT_OK


def cmd_operators(args: argparse.Namespace) -> int:
    registry = load_registry()
    ops = registry.all()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": op.id,
                        "title": op.title,
                        "category": op.category,
                        "version": op.version,
                        "description": op.description,
                        "inputs": [p.to_json() for p in op.inputs],
                        "outputs": [p.to_json() for p in op.outputs],
                        "params": [p.to_json() for p in op.params],
                    }
                    for op in ops
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if args.markdown:
        from engine.docs import operators_markdown

        sys.stdout.write(operators_markdown(ops))
        return EXIT_OK
    out = Console(highlight=False)
    from rich.table import Table

    table = Table("id", "category", "title", "inputs → outputs", box=None)
    for op in ops:
        ins = ", ".join(f"{p.name}{'*' if p.multiple else ''}" for p in op.inputs)
        outs = ", ".join(p.name for p in op.outputs)
        table.add_row(op.id, op.category, op.title, f"{ins or '-'} → {outs or '-'}")
    out.print(table)
    for name, error in registry.load_errors.items():
        _err.print(f"[yellow]operator {escape(name)} could not be loaded: {escape(error)}[/]")
    return EXIT_OK


def cmd_sample_data(args: argparse.Namespace) -> int:
    from engine.sampledata import DATASETS, write_sample

    if args.name not in DATASETS:
        return _usage_error(
            f"Unknown sample dataset {args.name!r}; available: {', '.join(sorted(DATASETS))}."
        )
    if args.rows < 1:
        return _usage_error(f"--rows must be at least 1. Got {args.rows}.")
    shift = None
    if args.shift is not None:
        from engine.sampledata import parse_shift

        if args.name != "credit_risk":
            return _usage_error("--shift applies to the credit_risk dataset.")
        try:
            shift = parse_shift(args.shift)
        except ValueError as exc:
            return _usage_error(str(exc))
    start = time.time()
    out = write_sample(args.name, args.rows, args.seed, args.out, shift=shift)
    _err.print(
        f"[green]✓[/] wrote {args.rows:,} rows of {args.name} to {escape(str(out))} "
        f"in {time.time() - start:.1f}s"
    )
    if shift is not None:
        _err.print(f"  shifted: {escape(shift.describe())} (column application_date)")
    return EXIT_OK


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def cmd_preview(args: argparse.Namespace) -> int:
    from engine.stats import OutputNotFound, find_output, preview_rows, table_stats
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    if not (ws.root / "seer.db").exists() and not ws._store_url:
        return _usage_error(f"No workspace at {ws.root}; give --workspace DIR.")
    try:
        port, out = find_output(ws.store, args.run, args.node, args.port)
    except OutputNotFound as exc:
        return _usage_error(str(exc))
    doc: dict = {"node": args.node, "port": port, **preview_rows(out["path"], args.rows)}
    if args.stats:
        doc["stats"] = table_stats(out["path"])
    if args.json:
        print(json.dumps(doc, indent=1, ensure_ascii=False))
        return EXIT_OK
    from rich.table import Table

    console = Console(highlight=False)
    title = f"{args.node}.{port}: first {len(doc['rows'])} of {doc['total_rows']:,} rows"
    cols = doc["columns"]
    if len(cols) > 6:  # wide tables read better turned on their side: one line per column
        grid = Table("column", "type", *[f"#{i + 1}" for i in range(len(doc["rows"]))], title=title)
        for c in cols:
            grid.add_row(c["name"], c["type"], *[_cell(r[c["name"]]) for r in doc["rows"]])
    else:
        grid = Table(*[c["name"] for c in cols], title=title)
        for row in doc["rows"]:
            grid.add_row(*[_cell(row[c["name"]]) for c in cols])
    console.print(grid)
    if args.stats:
        st = Table(
            "column",
            "type",
            "missing",
            "distinct",
            "min",
            "max",
            "mean",
            "top values",
            title="column statistics",
        )
        for c in doc["stats"]["columns"]:
            top = ", ".join(f"{t['value']} ({t['count']})" for t in c.get("top", [])[:3])
            mean = "" if c.get("mean") is None else f"{c['mean']:.4g}"
            st.add_row(
                c["name"],
                c["type"],
                f"{c['missing']:,}",
                str(c.get("distinct", "")),
                str(c["min"]),
                str(c["max"]),
                mean,
                top,
            )
        console.print(st)
        console.print(f"[dim]{doc['stats']['note']}[/]")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    """The workspace's runs, newest first, from the store (Spark is not started)."""
    from engine.workspace import Workspace
    from seer_cli.runlist import print_runs

    if args.limit < 1:
        return _usage_error(f"--limit must be at least 1. Got {args.limit}.")
    ws = Workspace(args.workspace)
    if not (ws.root / "seer.db").exists() and not ws._store_url:
        return _usage_error(f"No workspace at {ws.root}; give --workspace DIR.")
    print_runs(ws.store, args.limit, as_json=args.json)
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """The flow commands (the ``seer.commands`` entry point ``flows``)."""
    _add_run(sub)
    _add_inspection(sub)

    sd = sub.add_parser("sample-data", help="write a generated dataset to a CSV or Parquet file")
    sd.add_argument("name", help="dataset name, e.g. credit_risk")
    sd.add_argument("--rows", type=int, required=True)
    sd.add_argument("--out", required=True, help="target file; .parquet for Parquet, else CSV")
    sd.add_argument("--seed", type=int, default=42)
    sd.add_argument(
        "--shift",
        metavar="SPEC",
        help="change the applications from a month on (credit_risk): from=YYYY-MM and any of "
        "channel=NAME, channel_share=0.35, channel_odds=4, rate=+2, default_odds=1.5 "
        "(e.g. from=2024-07,channel=partner,rate=+2)",
    )
    sd.set_defaults(func=cmd_sample_data)


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run a flow file")
    run.add_argument("flow", help="the flow file (*.flow.json)")
    run.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    run.add_argument("--master", help="Spark master URL (default local[*] or $SEER_SPARK_MASTER)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run.add_argument(
        "--from",
        dest="from_node",
        action="append",
        default=[],
        metavar="NODE",
        help="rerun NODE and everything downstream of it",
    )
    run.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="NODE",
        help="rerun NODE even if its cached result is valid",
    )
    run.add_argument("--to", metavar="NODE", help="run only what NODE needs (run to here)")
    run.add_argument(
        "--keep-all",
        action="store_true",
        help="save every node's output tables (by default a split's outputs go to their "
        "consumers unsaved and are recomputed when needed)",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a flow parameter",
    )
    add_data_root(run)
    run.set_defaults(func=cmd_run)


def _add_inspection(sub: Any) -> None:
    val = sub.add_parser("validate", help="check a flow file without running it")
    val.add_argument("flow")
    val.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    val.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    add_data_root(val)
    val.add_argument("--json", action="store_true", help="print the problems as JSON on stdout")
    val.set_defaults(func=cmd_validate)

    ops = sub.add_parser("operators", help="list the installed operators")
    fmt = ops.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument(
        "--markdown", action="store_true", help="the operator reference (docs/operators.md)"
    )
    ops.set_defaults(func=cmd_operators)

    pv = sub.add_parser(
        "preview", help="show the first rows (and column statistics) of a node's output"
    )
    pv.add_argument("run", help="run id, or 'latest'")
    pv.add_argument("node", help="node id")
    pv.add_argument("--port", help="output port (default: the node's first table output)")
    pv.add_argument("--rows", type=int, default=20)
    pv.add_argument("--stats", action="store_true", help="add column statistics")
    pv.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(func=cmd_preview)

    rs = sub.add_parser(
        "runs", help="list the workspace's runs: status, flow, start, duration, failed node"
    )
    rs.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    rs.add_argument("--limit", type=int, default=20, help="how many runs, newest first")
    rs.add_argument("--json", action="store_true", help="print the runs as JSON on stdout")
    rs.set_defaults(func=cmd_runs)
