"""Serving the studio: a production WSGI server (waitress, threads), never Flask's development
server. Runs execute in this process against one warm SparkSession."""

from __future__ import annotations

import logging
import sys
import threading
import time
import webbrowser

from engine.workspace import Workspace


def serve(
    host: str = "127.0.0.1",
    port: int = 8050,
    workspace: str | None = None,
    master: str | None = None,
    open_browser: bool = True,
    serve_port: int = 8600,
    threads: int = 8,
) -> int:
    from waitress import create_server

    from studio.app import create_app

    t0 = time.perf_counter()
    ws = Workspace(workspace)
    ws.flows_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(ws, master=master, serve_port=serve_port)
    try:
        server = create_server(
            app.server, host=host, port=port, threads=threads, ident="seer-studio"
        )
    except OSError as exc:
        print(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Is a studio already running? Use --port.",
            file=sys.stderr,
        )
        return 2
    url = f"http://{host}:{port}/"
    print(
        f"Seer studio on {url} · workspace {ws.root} · ready in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    print(url, flush=True)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    if open_browser:
        threading.Timer(0.5, lambda: webbrowser.open(url)).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
