"""Serving the studio: a production WSGI server (waitress, threads), never Flask's development
server. Runs execute in this process against one warm SparkSession."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import webbrowser
from typing import Any

from engine.workspace import Workspace


def serve(
    host: str = "127.0.0.1",
    port: int = 8050,
    workspace: str | None = None,
    master: str | None = None,
    open_browser: bool = True,
    serve_port: int = 8600,
    threads: int = 8,
    allowed_hosts: tuple[str, ...] = (),
    trusted_proxy: str | None = None,
    data_roots: tuple[str, ...] = (),
    scheduler: bool = True,
) -> int:
    from waitress import create_server

    from studio.app import create_app

    t0 = time.perf_counter()
    # imported once here: waitress threads importing them lazily at the same time can see a
    # half-initialized module
    import pandas  # noqa: F401
    import plotly.io  # noqa: F401

    ws = Workspace(workspace)
    ws.flows_dir.mkdir(parents=True, exist_ok=True)
    if not _safe_to_bind(ws, host):
        return 2
    app = create_app(
        ws,
        master=master,
        serve_port=serve_port,
        bind_host=host,
        allowed_hosts=allowed_hosts,
        data_roots=data_roots,
    )
    try:
        server = create_server(
            app.server,
            host=host,
            port=port,
            threads=threads,
            ident="seer-studio",
            **proxy_options(trusted_proxy),
        )
    except OSError as exc:
        print(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Is a studio already running? Use --port.",
            file=sys.stderr,
        )
        return 2
    url = f"http://{host}:{port}/"
    print(
        f"Seer studio on {url} · workspace {ws.root} · scoring service on port {serve_port} "
        f"when a model is published · ready in {time.perf_counter() - t0:.1f} s (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )
    if not sys.stdout.isatty():  # for scripts that start the studio and read where it listens
        print(url, flush=True)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # SIGTERM ends the studio like Ctrl+C, so the scoring service it started stops too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if open_browser:
        threading.Timer(0.5, lambda: webbrowser.open(url)).start()
    # the checks of watched models (alerts, cron schedules, retraining) while the studio runs,
    # from when Spark is warm (what Spark's JVM says while it starts goes to the workspace's
    # logs, and so would the scheduler's lines)
    checks = _scheduler(ws, master) if scheduler else None
    # start the SparkSession now, in the background: the first run then finds it warm
    threading.Thread(
        target=_warm_spark, args=(ws, master, checks), name="seer-spark-warmup", daemon=True
    ).start()
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        if checks is not None:
            checks.stop(timeout=5)  # a retrain in progress is left to finish in its thread
    return 0


def _scheduler(ws: Workspace, master: str | None) -> Any:
    from engine.scheduler import Scheduler

    def said(model: str, doc: dict[str, Any]) -> None:
        run = doc.get("retrain")
        if run:
            print(
                f"{model}: retrain {run['status']}: "
                f"{doc.get('decision') or 'no decision'}: {doc.get('reason', '')}",
                file=sys.stderr,
                flush=True,
            )

    return Scheduler(ws, interval=60.0, on_check=said, master=master)


def proxy_options(trusted_proxy: str | None) -> dict[str, Any]:
    """waitress settings to believe X-Forwarded-Proto/-Host/-For from one reverse proxy only."""
    if not trusted_proxy:
        return {}
    return {
        "trusted_proxy": trusted_proxy,
        "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-host", "x-forwarded-for"},
        "clear_untrusted_proxy_headers": True,
    }


def _safe_to_bind(ws: Workspace, host: str) -> bool:
    """Beyond loopback the studio needs users (and says so); with users, it warns about TLS."""
    from engine.users import Users
    from studio.auth import is_loopback

    if is_loopback(host):
        return True
    if Users(ws.store).count() == 0:
        print(
            f"Refusing to serve the studio on {host} without login: anyone on the network could "
            "run flows. Add a user first (seer users add NAME --role admin"
            f"{'' if ws.root == Workspace().root else ' --workspace ' + str(ws.root)}), "
            "or bind to 127.0.0.1.",
            file=sys.stderr,
        )
        return False
    print(
        f"Warning: the studio on {host} is served over plain HTTP: passwords and session "
        "cookies cross the network unencrypted. Put it behind a reverse proxy with https "
        "(see docs/security.md, 'Deploying Seer for a team').",
        file=sys.stderr,
        flush=True,
    )
    return True


def _warm_spark(ws: Workspace, master: str | None, then: Any = None) -> None:
    from engine.spark import get_spark

    try:
        get_spark(master, ws.spark_local_dir, ws.logs_dir)
    except Exception as exc:  # the first run reports it with its node
        logging.getLogger("seer.studio").warning("Spark did not start: %s", exc)
    finally:
        if then is not None:
            then.start()
