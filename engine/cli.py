"""The `seer` command line. Progress goes to stderr; `--json` puts one document on stdout.

Exit codes: 0 success, 1 the run failed (or was cancelled), 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from engine.flow import FlowError, load_flow, prepare_flow
from engine.registry import load_registry

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
log = logging.getLogger(__name__)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

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


def _usage_error(message: str) -> int:
    _err.print(f"[red]error:[/] {escape(message)}")
    return EXIT_INVALID


def _print_problems(err: FlowError) -> None:
    n = len(err.problems)
    _err.print(f"[red]{escape(err.source or 'flow')}: {n} problem{'s' if n != 1 else ''}[/]")
    for p in err.problems:
        where = f"[bold]{escape(p.node)}[/]: " if p.node else ""
        _err.print(f"  [red]✗[/] {where}{escape(p.message)}")


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


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the flow may read and write besides the workspace and the flow's own "
        "folder (repeatable; also $SEER_DATA_ROOTS)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from engine.runner import NodeEvent, Runner, RunOptions
    from engine.workspace import Workspace

    try:
        overrides = _parse_params(args.param)
        flow = load_flow(args.flow)
        prepared = prepare_flow(
            flow, load_registry(), overrides, Path.cwd(), _roots(args, flow, args.workspace)
        )
    except FlowError as err:
        _print_problems(err)
        if args.json:
            print(
                json.dumps(
                    {
                        "run_id": None,
                        "status": "invalid",
                        "nodes": {},
                        "problems": [p.to_json() for p in err.problems],
                    }
                )
            )
        return EXIT_INVALID
    for nid in [*args.force, *args.from_node, *([args.to] if args.to else [])]:
        if nid not in prepared.nodes:
            return _usage_error(
                f'The flow has no node "{nid}". Its nodes: {", ".join(prepared.order)}.'
            )

    ws = Workspace(args.workspace)
    start = time.time()

    def progress(ev: NodeEvent) -> None:
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

    runner = Runner(ws, listeners=[progress])
    options = RunOptions(
        master=args.master,
        force=set(args.force),
        from_nodes=set(args.from_node),
        to_node=args.to,
        keep="all" if args.keep_all else "needed",
    )
    ws.store  # noqa: B018 - a read-only or full workspace is reported before anything runs
    _err.print(f"[bold]{escape(flow.name)}[/] · workspace {escape(str(ws.root))}")
    handle = runner.start(prepared, options)
    from engine import audit

    audit.record(ws.store, audit.cli_actor(), "run.start", flow=flow.name, run_id=handle.run_id)
    try:
        while not handle.done():
            time.sleep(0.1)
    except KeyboardInterrupt:
        _err.print("[yellow]Cancelling the run…[/]")
        handle.cancel()
        audit.record(
            ws.store, audit.cli_actor(), "run.cancel", flow=flow.name, run_id=handle.run_id
        )
    result = handle.wait()
    counts: dict[str, int] = {}
    for r in result.nodes.values():
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    colour = {"succeeded": "green", "failed": "red"}.get(result.status, "yellow")
    _err.print(
        f"[{colour}]Run {result.run_id} {result.status}[/] in {time.time() - start:.1f}s ({summary})"
    )
    if result.status == "failed":
        for nid, r in result.nodes.items():
            if r.status == "failed":
                _err.print(f'[red]Node "{escape(nid)}" failed:[/] {escape(r.error or "")}')
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        overrides = _parse_params(args.param)
        flow = load_flow(args.flow)
        prepared = prepare_flow(
            flow, load_registry(), overrides, Path.cwd(), _roots(args, flow, args.workspace)
        )
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
        print(json.dumps({"valid": True, "problems": [], "nodes": prepared.order}, indent=2))
    _err.print(
        f"[green]✓[/] {escape(str(args.flow))} is valid ({len(prepared.nodes)} nodes, "
        f"{len(flow.links)} links)."
    )
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
    start = time.time()
    out = write_sample(args.name, args.rows, args.seed, args.out)
    _err.print(
        f"[green]✓[/] wrote {args.rows:,} rows of {args.name} to {escape(str(out))} "
        f"in {time.time() - start:.1f}s"
    )
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


def cmd_models(args: argparse.Namespace) -> int:
    from engine.model_registry import ModelRegistry, RegistryError
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    registry = ModelRegistry(ws)
    out = Console(highlight=False)
    try:
        if args.action == "list":
            models = registry.list_models()
            if args.json:
                print(json.dumps(models, indent=1))
            elif not models:
                _err.print(
                    "No models published in this workspace yet (publish node, or `seer models publish`)."
                )
            else:
                from rich.table import Table

                table = Table("name", "production", "canary", "versions", box=None)
                for m in models:
                    canary = f"v{m['canary']} ({m['canary_percent']:g}%)" if m["canary"] else "-"
                    table.add_row(m["name"], f"v{m['production']}", canary, str(m["versions"]))
                out.print(table)
        elif args.action == "show":
            doc = registry.show(args.name)
            if args.json:
                print(json.dumps(doc, indent=1, default=str))
            else:
                out.print(
                    f"[bold]{escape(args.name)}[/] production v{doc['production']}"
                    + (
                        f", canary v{doc['canary']} at {doc['canary_percent']:g}%"
                        if doc["canary"]
                        else ""
                    )
                )
                for v in doc["versions"]:
                    auc = v["metrics"].get("valid_auc")
                    out.print(
                        f"  v{v['version']}  {v['stage']:<10} {v['model_type'] or ''}  "
                        f"{'valid AUC ' + format(auc, '.4f') if auc else ''}  run {v['run_id']} node {v['node_id']}"
                    )
        elif args.action == "publish":
            outputs = ws.store.outputs_of(args.run, args.node) if args.run != "latest" else None
            if args.run == "latest":
                for r in ws.store.list_runs(limit=200):
                    outputs = ws.store.outputs_of(r["run_id"], args.node)
                    if outputs:
                        args.run = r["run_id"]
                        break
            model = (outputs or {}).get("model")
            if not model:
                return _usage_error(f'Node "{args.node}" has no model output in run {args.run}.')
            version = registry.publish(
                model["path"],
                args.name,
                run_id=args.run,
                node_id=args.node,
                description=args.description or "",
            )
            args.version = version
            _err.print(f"[green]✓[/] published {escape(args.name)} version {version}")
        elif args.action == "promote":
            registry.promote(args.name, args.version)
            _err.print(f"[green]✓[/] {escape(args.name)} v{args.version} is in production")
        elif args.action == "rollback":
            version = args.version = registry.rollback(args.name)
            _err.print(f"[green]✓[/] {escape(args.name)} rolled back to v{version}")
        elif args.action == "canary":
            registry.canary(args.name, args.version, args.percent)
            _err.print(
                f"[green]✓[/] {escape(args.name)} v{args.version} takes {args.percent:g}% of traffic"
            )
    except RegistryError as exc:
        _audit_model_action(ws, args, "failed", str(exc))
        return _usage_error(str(exc))
    _audit_model_action(ws, args, "ok")
    return EXIT_OK


def _audit_model_action(ws: Any, args: argparse.Namespace, outcome: str, detail: str = "") -> None:
    if args.action not in ("publish", "promote", "rollback", "canary"):
        return
    from engine import audit

    version = getattr(args, "version", None)
    if args.action == "canary":
        detail = f"{args.percent:g}% {detail}".strip()
    elif args.action == "publish":
        detail = f"run {args.run} node {args.node} {detail}".strip()
    audit.record(
        ws.store,
        audit.cli_actor(),
        f"model.{args.action}",
        outcome=outcome,
        model=args.name,
        version=version,
        detail=detail,
    )


def cmd_runs(args: argparse.Namespace) -> int:
    """The workspace's runs, newest first, from the store (Spark is not started)."""
    from engine.runlist import print_runs
    from engine.workspace import Workspace

    if args.limit < 1:
        return _usage_error(f"--limit must be at least 1. Got {args.limit}.")
    ws = Workspace(args.workspace)
    if not (ws.root / "seer.db").exists() and not ws._store_url:
        return _usage_error(f"No workspace at {ws.root}; give --workspace DIR.")
    print_runs(ws.store, args.limit, as_json=args.json)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import sqlite3

    import uvicorn

    from engine.serving.app import ServeOptions, api_keys_from_env, create_app, options_to_env
    from engine.workspace import Workspace

    if not args.max_body_mb > 0:
        return _usage_error(f"--max-body-mb must be a positive number. Got {args.max_body_mb:g}.")
    if args.workers < 1:
        return _usage_error(f"--workers must be at least 1. Got {args.workers}.")
    if args.batch_threads < 1 or args.batch_queue < 0:
        return _usage_error("--batch-threads must be at least 1 and --batch-queue at least 0.")
    ws = Workspace(args.workspace)
    options = ServeOptions(
        api_keys=sorted(api_keys_from_env() | set(args.api_key or [])),
        max_body_mb=args.max_body_mb,
        public_metrics=args.public_metrics,
        worker_threads=args.batch_threads,
        queued_batches=args.batch_queue,
    )
    try:
        app = create_app(ws, options=options)
    except (OSError, sqlite3.Error) as exc:
        return _usage_error(f"Cannot serve the workspace {ws.root}: {exc}.")
    models = ", ".join(sorted(app.state.host.routes)) or "none yet (they appear when published)"
    keys = app.state.auth.enabled
    _err.print(
        f"Seer scoring service on http://{args.host}:{args.port} · workspace {escape(str(ws.root))}"
        + (f" · {args.workers} worker processes" if args.workers > 1 else "")
    )
    _err.print(f"models: {escape(models)}{' · API keys required' if keys else ''}")
    run = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers == 1:
        uvicorn.run(app, **run)
    else:  # uvicorn's supervisor restarts a worker that dies
        os.environ.update(options_to_env(ws, options))
        uvicorn.run("engine.serving.app:app_from_env", factory=True, workers=args.workers, **run)
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from engine.api_keys import ApiKeyError, create_key, list_keys, parse_scopes, revoke_key
    from engine.workspace import Workspace

    store = Workspace(args.workspace).store
    try:
        if args.action == "create":
            if bool(args.model) == bool(args.all):
                return _usage_error(
                    "Name the models the key is for: --model NAME (repeatable) or --all."
                )
            key_id, key = create_key(
                store, None if args.all else args.model, parse_scopes(args.scope), args.name or ""
            )
            if args.json:
                print(json.dumps({"id": key_id, "key": key}))
            else:
                _err.print(
                    f"[green]✓[/] API key {key_id} created. It is shown this once; keep it secret:"
                )
                print(key)
        elif args.action == "list":
            keys = list_keys(store)
            if args.json:
                print(json.dumps(keys, indent=1))
            elif not keys:
                _err.print("No API keys in this workspace (`seer keys create`).")
            else:
                from rich.table import Table

                table = Table("id", "name", "models", "scopes", "status", box=None)
                for k in keys:
                    table.add_row(
                        k["key_id"],
                        k["label"] or "",
                        "all" if k["models"] is None else ", ".join(k["models"]),
                        ",".join(k["scopes"]),
                        k["status"],
                    )
                Console(highlight=False).print(table)
        elif args.action == "revoke":
            revoke_key(store, args.id)
            _err.print(f"[green]✓[/] API key {escape(args.id)} revoked")
    except ApiKeyError as exc:
        return _usage_error(str(exc))
    return EXIT_OK


def _version_arg(text: str) -> int:
    from engine.model_registry import RegistryError, check_version

    try:
        return check_version(text)
    except RegistryError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(
    extend: Callable[[Any], None] | None = None,
) -> argparse.ArgumentParser:
    """The `seer` command line; `extend` adds subcommands of the layers above the engine (the
    studio registers `seer studio` this way)."""
    parser = argparse.ArgumentParser(
        prog="seer", description="Seer: visual machine-learning flows on Spark."
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log engine details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

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

    mp = sub.add_parser(
        "models", help="the model registry: list, show, publish, promote, rollback, canary"
    )
    msub = mp.add_subparsers(dest="action", required=True)
    ml = msub.add_parser("list")
    ms = msub.add_parser("show")
    ms.add_argument("name")
    mpub = msub.add_parser(
        "publish", help="register a run's model output as the next version of NAME"
    )
    mpub.add_argument("run", help="run id, or 'latest'")
    mpub.add_argument("node")
    mpub.add_argument("--name", required=True)
    mpub.add_argument("--description")
    mpr = msub.add_parser("promote")
    mpr.add_argument("name")
    mpr.add_argument("version", type=_version_arg)
    mrb = msub.add_parser("rollback")
    mrb.add_argument("name")
    mc = msub.add_parser(
        "canary", help="send PERCENT of NAME's traffic to VERSION (0 ends the canary)"
    )
    mc.add_argument("name")
    mc.add_argument("version", type=_version_arg)
    mc.add_argument("--percent", type=float, required=True)
    for p in (ml, ms, mpub, mpr, mrb, mc):
        p.add_argument(
            "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
        )
        p.add_argument("--json", action="store_true")
    mp.set_defaults(func=cmd_models)

    sv = sub.add_parser("serve", help="run the scoring service for the workspace's deployed models")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8600)
    sv.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    sv.add_argument(
        "--api-key", action="append", help="require this API key (also SEER_API_KEYS=k1,k2)"
    )
    sv.add_argument(
        "--max-body-mb",
        type=float,
        default=16.0,
        help="refuse request bodies larger than this with 413 (default 16 MiB)",
    )
    sv.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port; a worker that dies is restarted (default 1)",
    )
    sv.add_argument(
        "--batch-threads",
        type=int,
        default=2,
        help="threads per worker that score large batches and explanations (default 2)",
    )
    sv.add_argument(
        "--batch-queue",
        type=int,
        default=8,
        help="large batches that may wait for a thread; beyond, 503 + Retry-After (default 8)",
    )
    sv.add_argument(
        "--public-metrics",
        action="store_true",
        help="serve /metrics without an API key even when keys are required",
    )
    sv.set_defaults(func=cmd_serve)

    rs = sub.add_parser(
        "runs", help="list the workspace's runs: status, flow, start, duration, failed node"
    )
    rs.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    rs.add_argument("--limit", type=int, default=20, help="how many runs, newest first")
    rs.add_argument("--json", action="store_true", help="print the runs as JSON on stdout")
    rs.set_defaults(func=cmd_runs)

    kp = sub.add_parser("keys", help="API keys of the scoring service: create, list, revoke")
    ksub = kp.add_subparsers(dest="action", required=True)
    kc = ksub.add_parser("create", help="create a key (printed once)")
    kc.add_argument("--model", action="append", help="a model the key is for (repeatable)")
    kc.add_argument("--all", action="store_true", help="the key is for every model")
    kc.add_argument(
        "--scope",
        default="score",
        help="comma-separated: score, feedback, read (default score)",
    )
    kc.add_argument("--name", help="a label to recognise the key by")
    kl = ksub.add_parser("list", help="the keys (never the keys themselves)")
    kr = ksub.add_parser("revoke", help="revoke a key by its id")
    kr.add_argument("id")
    for p in (kc, kl, kr):
        p.add_argument(
            "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
        )
        p.add_argument("--json", action="store_true")
    kp.set_defaults(func=cmd_keys)

    sd = sub.add_parser("sample-data", help="write a generated dataset to a CSV or Parquet file")
    sd.add_argument("name", help="dataset name, e.g. credit_risk")
    sd.add_argument("--rows", type=int, required=True)
    sd.add_argument("--out", required=True, help="target file; .parquet for Parquet, else CSV")
    sd.add_argument("--seed", type=int, default=42)
    sd.set_defaults(func=cmd_sample_data)
    from engine.cli_users import add_commands as add_user_commands

    add_user_commands(sub)
    if extend is not None:
        extend(sub)
    return parser


def main(argv: list[str] | None = None, extend: Callable[[Any], None] | None = None) -> int:
    parser = build_parser(extend)
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
        return _usage_error(message)


#: commands that need a writable workspace before they start (`run` opens it after the flow
#: is checked, `runs` only lists an existing one)
_OPENS_WORKSPACE = {"serve", "models", "studio"}


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
