"""`seer models ...`, `seer serve` and `seer keys ...`: the model registry, the scoring service
and its API keys."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from rich.console import Console
from rich.markup import escape

from seer_cli.common import EXIT_OK
from seer_cli.common import err as _err
from seer_cli.common import usage_error as _usage_error
from seer_cli.loop import add_loop_model_commands, add_scheduler_command
from seer_cli.monitoring import add_model_commands


def cmd_models(args: argparse.Namespace) -> int:
    from engine.model_registry import ModelRegistry, RegistryError
    from engine.workspace import Workspace

    ws = Workspace(args.workspace)
    registry = ModelRegistry(ws)
    try:
        if args.action == "list":
            _print_models(registry.list_models(), args.json)
        elif args.action == "show":
            _print_model(args.name, registry.show(args.name), args.json)
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
        elif args.action == "export":
            return _export(ws, args)
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


def _export(ws: Any, args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.model_export import ExportError, export_model

    try:
        done = export_model(ws, args.name, Path(args.out).resolve())
    except ExportError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(done))
    _err.print(
        f"[green]✓[/] {escape(args.name)} v{done['version']} exported to {escape(done['folder'])}"
        " (Dockerfile, kubernetes.yaml, README.md inside)"
    )
    return EXIT_OK


def _print_models(models: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
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
        Console(highlight=False).print(table)


def _print_model(name: str, doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=1, default=str))
        return
    out = Console(highlight=False)
    canary = f", canary v{doc['canary']} at {doc['canary_percent']:g}%" if doc["canary"] else ""
    shadow = f", shadow v{doc['shadow']}" if doc.get("shadow") else ""
    out.print(f"[bold]{escape(name)}[/] production v{doc['production']}{canary}{shadow}")
    for v in doc["versions"]:
        auc = v["metrics"].get("valid_auc")
        out.print(
            f"  v{v['version']}  {v['stage']:<10} {v['model_type'] or ''}  "
            f"{'valid AUC ' + format(auc, '.4f') if auc else ''}  run {v['run_id']} node {v['node_id']}"
        )


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
        mlflow_model=args.mlflow_model,
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


def cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.batch_score import ScoreError, ScoreJob, run_score
    from engine.workspace import Workspace

    job = ScoreJob(
        args.name,
        Path(args.input).resolve(),
        Path(args.output).resolve(),
        args.version,
        args.master,
        args.reasons,
        args.format,
    )
    try:
        result = run_score(Workspace(args.workspace), job)
    except ScoreError as exc:
        return _usage_error(str(exc))
    if result.status != "succeeded":
        errors = [f"{n}: {r.error}" for n, r in result.nodes.items() if r.error]
        _err.print(f"[red]Scoring failed:[/] {escape('; '.join(errors))}")
        return 1
    rows = (result.nodes["predict"].rows or {}).get("out")
    count = f"{rows:,} rows" if rows is not None else "rows"
    _err.print(f"[green]✓[/] scored {count} with {escape(args.name)} into {escape(args.output)}")
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


def add_commands(sub: Any) -> None:
    _add_models(sub)
    _add_serve(sub)
    _add_score(sub)
    _add_keys(sub)
    add_scheduler_command(sub)


def _add_models(sub: Any) -> None:
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
    mex = msub.add_parser(
        "export", help="write a self-contained serving folder (Dockerfile, Kubernetes manifest)"
    )
    mex.add_argument("name")
    mex.add_argument("--out", required=True, help="a new (or empty) folder")
    for p in (ml, ms, mpub, mpr, mrb, mc, mex):
        p.add_argument(
            "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
        )
        p.add_argument("--json", action="store_true")
    mp.set_defaults(func=cmd_models)
    add_model_commands(msub)
    add_loop_model_commands(msub)


def _add_serve(sub: Any) -> None:
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
    sv.add_argument(
        "--mlflow-model",
        metavar="NAME",
        help="the model MLflow's POST /invocations scores when no X-Seer-Model header names one",
    )
    sv.set_defaults(func=cmd_serve)


def _add_score(sub: Any) -> None:
    sc = sub.add_parser(
        "score", help="score a CSV/Parquet file or folder with a registered model, on Spark"
    )
    sc.add_argument("name", help="the registered model")
    sc.add_argument("input", help="a .csv or .parquet file, or a folder of them")
    sc.add_argument("output", help="a .csv or .parquet file, or a folder (of part files)")
    sc.add_argument("--version", type=_version_arg, help="a version (default: production)")
    sc.add_argument("--master", help="Spark master URL (default local[*] or $SEER_SPARK_MASTER)")
    sc.add_argument("--reasons", action="store_true", help="add each row's top reasons (JSON)")
    sc.add_argument("--format", choices=["csv", "parquet"], help="the output's format")
    sc.add_argument(
        "--workspace", help="workspace folder (default ./seer-workspace or $SEER_WORKSPACE)"
    )
    sc.set_defaults(func=cmd_score)


def _add_keys(sub: Any) -> None:
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
