"""The scoring service: a lean Starlette app that hosts every deployed model of a workspace.

It imports neither pyspark, pandas, pyarrow nor the lightgbm Python package. It watches the
registry (engine/serving/host.py) and picks up publish/promote/rollback/canary changes without a
restart. Every scored request and every feedback record is logged off the hot path
(engine/serving/request_log.py).

It speaks several protocols, each in its own module over one shared scoring path
(engine/serving/service.py): Seer's own routes, which are KServe's v1 protocol
(routes_v1.py), the Open Inference Protocol v2 of KServe and Triton (routes_v2.py), and MLflow's
scoring protocol (routes_mlflow.py); plus /healthz, /metrics and /openapi.json (routes_ops.py),
and a model's monitoring windows (routes_monitoring.py).

One client cannot stall it: small requests are scored on the event loop (microseconds), while
large batches and explanations run in a bounded pool of worker threads; when those threads and
their queue are full, a large batch gets 503 with Retry-After instead of waiting without bound.
Bodies are limited in size (413), and background threads start and stop with the app's
lifespan, so a clean shutdown (SIGTERM) writes every queued log record.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from starlette.applications import Starlette

from engine.serving.routes_mlflow import MlflowRoutes
from engine.serving.routes_monitoring import MonitoringRoutes
from engine.serving.routes_ops import OpsRoutes
from engine.serving.routes_v1 import V1Routes
from engine.serving.routes_v2 import V2Routes
from engine.serving.service import ServeOptions, Service
from engine.workspace import Workspace

__all__ = ["ServeOptions", "api_keys_from_env", "app_from_env", "create_app", "options_to_env"]


def create_app(
    workspace: Workspace,
    api_keys: set[str] | None = None,
    poll_seconds: float | None = None,
    options: ServeOptions | None = None,
) -> Starlette:
    opts = options or ServeOptions()
    if api_keys:
        opts.api_keys = sorted(set(opts.api_keys) | set(api_keys))
    if poll_seconds is not None:
        opts.poll_seconds = poll_seconds
    service = Service(workspace, opts)
    routes = [
        *V1Routes(service).routes(),
        *V2Routes(service).routes(),
        *MlflowRoutes(service).routes(),
        *OpsRoutes(service).routes(),
        *MonitoringRoutes(service).routes(),
    ]
    app = Starlette(routes=routes, lifespan=service.lifespan)
    app.state.service = service
    app.state.host = service.host
    app.state.request_log = service.request_log
    app.state.auth = service.auth
    app.state.stop = service.stop
    return app


def api_keys_from_env() -> set[str]:
    return {k.strip() for k in os.environ.get("SEER_API_KEYS", "").split(",") if k.strip()}


ENV_OPTIONS = "SEER_SERVE_OPTIONS"


def options_to_env(workspace: Workspace, options: ServeOptions) -> dict[str, str]:
    """What `app_from_env` needs, as environment variables for worker processes."""
    return {"SEER_WORKSPACE": str(workspace.root), ENV_OPTIONS: json.dumps(asdict(options))}


def app_from_env() -> Starlette:
    """The app factory each worker process of `seer serve --workers N` calls."""
    options = ServeOptions(**json.loads(os.environ.get(ENV_OPTIONS) or "{}"))
    return create_app(Workspace(os.environ.get("SEER_WORKSPACE")), options=options)
