"""The scoring service: a lean Starlette app that hosts every deployed model of a workspace.

It imports neither pyspark, pandas, pyarrow nor the lightgbm Python package. It watches the
registry (engine/serving/host.py) and picks up publish/promote/rollback/canary changes without a
restart. Every scored request and every feedback record is logged off the hot path
(engine/serving/request_log.py).

One client cannot stall it: small requests are scored on the event loop (microseconds), while
large batches and explanations run in a bounded pool of worker threads; when those threads and
their queue are full, a large batch gets 503 with Retry-After instead of waiting without bound.
Bodies are limited in size (413), and background threads start and stop with the app's
lifespan, so a clean shutdown (SIGTERM) writes every queued log record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.model_registry import ModelRegistry
from engine.serving.host import ModelHost
from engine.serving.metrics import UNKNOWN_MODEL, Metrics, gauge
from engine.serving.openapi import MAX_BATCH, openapi
from engine.serving.request_log import RequestLog
from engine.serving.scoring import LoadedModel, RequestError
from engine.serving.security import (
    Authorizer,
    PredictionIds,
    read_body,
    require_json,
    workspace_secret,
)
from engine.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MAX_BODY_MB = 16.0
# Work above these sizes leaves the event loop for a worker thread.
INLINE_INSTANCES = 64
INLINE_EXPLAINED = 4
INLINE_BODY_BYTES = 1 << 20


@dataclass
class ServeOptions:
    """How `seer serve` runs the app (passed to worker processes as JSON)."""

    api_keys: list[str] = field(default_factory=list)
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    public_metrics: bool = False
    poll_seconds: float = 0.5
    # large batches scored at once, and how many more may wait for a thread before a 503
    worker_threads: int = 2
    queued_batches: int = 8


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(exc: RequestError) -> Response:
    resp = _json({"error": str(exc)}, exc.status)
    resp.headers.update(exc.headers)
    return resp


_worker = threading.local()


def _background(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread at a lower CPU priority than the event loop's thread, so
    that on a busy machine the loop (health checks, small requests) is scheduled first."""
    if not getattr(_worker, "niced", False):
        _worker.niced = True
        with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    return fn()


def _flag(request: Request, name: str) -> bool:
    text = request.query_params.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise RequestError(400, f"?{name}= takes true or false. Got {text[:40]!r}.")
    return text in ("true", "1")


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise RequestError(400, "The body must be a JSON object.")
    return data


def _instances(data: dict[str, Any]) -> list[Any]:
    instances = data.get("instances", data.get("dataframe_records"))
    if instances is None:
        raise RequestError(400, 'The body needs "instances": [{column: value, ...}, ...].')
    if not isinstance(instances, list):
        raise RequestError(400, '"instances" must be a list of objects.')
    if not instances:
        raise RequestError(400, '"instances" is empty: send at least one.')
    if len(instances) > MAX_BATCH:
        raise RequestError(
            413, f"A request may hold at most {MAX_BATCH} instances. Got {len(instances)}."
        )
    return instances


def _score(
    model: LoadedModel, name: str, instances: list[Any], request_id: str, explain: bool
) -> tuple[bytes, dict[str, Any]]:
    """Validate, score (and explain) a batch; returns the response body and the log record."""
    model.validate(instances)
    scores = model.scores(instances)
    points = model.points(instances)
    reasons = model.explain_rows(instances) if explain else None
    preds = []
    for i, s in enumerate(scores):
        p: dict[str, Any] = {
            "id": f"{request_id}/{i}",
            "score": s,
            "prediction": int(s >= model.threshold),
        }
        if points is not None:
            p["points"] = points[i]
        if reasons is not None:
            p["reasons"] = reasons[i]
        preds.append(p)
    body = orjson.dumps(
        {"model": name, "version": model.version, "request_id": request_id, "predictions": preds}
    )
    record = {
        "ts": time.time(),
        "request_id": request_id,
        "model": name,
        "version": model.version,
        "instances": [model.inputs_of(r) for r in instances],  # the model's inputs only
        "predictions": [{"score": p["score"], "prediction": p["prediction"]} for p in preds],
    }
    return body, record


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
    max_body = int(opts.max_body_mb * 2**20)
    registry = ModelRegistry(workspace)
    host = ModelHost(registry)
    auth = Authorizer(workspace.store, set(opts.api_keys), opts.public_metrics)
    ids = PredictionIds(workspace_secret(workspace.root))
    request_log = RequestLog(workspace.logs_dir / "serving")
    workspace_id = workspace.store.workspace_id()  # /healthz says whose models these are
    metrics = Metrics()
    stop = threading.Event()
    heavy = {"pending": 0, "limiter": None}

    def poll() -> None:
        while not stop.wait(opts.poll_seconds):
            try:
                host.refresh()
                auth.refresh()
            except Exception:
                log.exception("registry refresh failed")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        heavy["limiter"] = anyio.CapacityLimiter(opts.worker_threads)
        request_log.start()
        watcher = threading.Thread(target=poll, name="seer-registry-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            request_log.stop()  # writes what is queued: a clean shutdown loses no record

    async def off_loop(fn: Callable[[], T]) -> T:
        """Run ``fn`` in a worker thread; 503 when the threads and their queue are full."""
        limiter = heavy["limiter"]
        if limiter is None:  # used without its lifespan (a bare ASGI test client)
            return fn()
        if heavy["pending"] >= opts.worker_threads + opts.queued_batches:
            metrics.busy_rejections += 1
            raise RequestError(
                503,
                "The service is busy with large batches; retry in a second, or send smaller "
                "batches (explanations especially).",
                {"Retry-After": "1"},
            )
        heavy["pending"] += 1
        try:
            return await anyio.to_thread.run_sync(partial(_background, fn), limiter=limiter)
        finally:
            heavy["pending"] -= 1

    def model_label(name: str) -> str:
        return name if host.deployed(name) else UNKNOWN_MODEL

    async def predict(request: Request) -> Response:
        start = time.perf_counter()
        name = request.path_params["name"]
        version_label, status = "-", 200
        try:
            auth.check(request, name, "score")
            require_json(request)
            body = await read_body(request, max_body)
            data = (
                await off_loop(partial(_parse, body))
                if len(body) > INLINE_BODY_BYTES
                else _parse(body)
            )
            instances = _instances(data)
            token = ids.token()
            version_text = request.path_params.get("version")
            model = (
                host.version(name, version_text)
                if version_text is not None
                else host.pick(name, token)
            )
            version_label = str(model.version)
            request_id = ids.request_id(name, token, len(instances))
            explain = _flag(request, "explain")
            work = partial(_score, model, name, instances, request_id, explain)
            inline = len(instances) <= (INLINE_EXPLAINED if explain else INLINE_INSTANCES)
            payload, record = work() if inline else await off_loop(work)
            request_log.put(name, "predictions", record)
            return Response(payload, media_type="application/json")
        except RequestError as exc:
            status = exc.status
            return _error(exc)
        except Exception as exc:  # never a crashed worker, never a traceback to the client
            log.exception("scoring failed")
            status = 500
            return _json(
                {"error": f"Scoring failed: {type(exc).__name__}. See the service log."}, 500
            )
        finally:
            metrics.observe(model_label(name), version_label, status, time.perf_counter() - start)

    async def feedback(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            auth.check(request, name, "feedback")
            if request.headers.get("content-type") is None:
                raise RequestError(
                    415, "Feedback must be sent as JSON (Content-Type: application/json)."
                )
            require_json(request)
            data = _parse(await read_body(request, max_body))
            model = host.any_version(name)
            pid, label = data.get("id"), data.get("label")
            if not isinstance(pid, str) or "/" not in pid:
                raise RequestError(
                    422, 'Feedback needs "id": the prediction id ("<request_id>/<index>").'
                )
            if "label" not in data:
                raise RequestError(422, 'Feedback needs "label": the true outcome (e.g. 1 or 0).')
            ids.check(name, pid)
            model.check_label(label)
            request_log.put(name, "feedback", {"ts": time.time(), "id": pid, "label": label})
            return _json({"status": "recorded", "id": pid})
        except RequestError as exc:
            return _error(exc)

    def describe(name: str) -> dict[str, Any]:
        route = host.routes[name]
        out = {"name": name, "production": route["production"].describe()}
        if route["canary"] is not None:
            out["canary"] = {**route["canary"].describe(), "percent": route["percent"]}
        return out

    async def list_models(request: Request) -> Response:
        try:
            grant = auth.check(request, None, "read", any_model=True)
        except RequestError as exc:
            return _error(exc)
        names = [n for n in sorted(host.routes) if auth.may_read(grant, n)]
        return _json({"models": [describe(n) for n in names]})

    async def show_model(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            auth.check(request, name, "read")
            if not host.deployed(name):
                raise RequestError(404, host.unknown(name))
        except RequestError as exc:
            return _error(exc)
        return _json(describe(name))

    async def healthz(request: Request) -> Response:
        state = request_log.status()
        doc: dict[str, Any] = {
            "status": "ok" if state["ok"] else "degraded",
            "models": len(host.routes),
            "registry_generation": host.generation,
            "request_log": state,
            "workspace": workspace_id,
        }
        if not state["ok"]:
            doc["reason"] = f"The request log cannot be written: {state['error']}"
        return _json(doc)

    async def prometheus(request: Request) -> Response:
        if not opts.public_metrics:
            try:
                auth.check(request, None, "read")
            except RequestError as exc:
                return _error(exc)
        extra = [
            *gauge(
                "seer_request_log_dropped_total",
                "Log records dropped (log queue full, or the log could not be written).",
                request_log.dropped,
                "counter",
            ),
            *gauge(
                "seer_request_log_write_errors_total",
                "Failed writes of the request log (disk full, file too large, read-only...).",
                request_log.write_errors,
                "counter",
            ),
            *gauge(
                "seer_request_log_degraded",
                "1 while the request log cannot be written (see /healthz for the reason).",
                0 if request_log.error is None else 1,
            ),
        ]
        return Response(metrics.render(extra), media_type="text/plain; version=0.0.4")

    spec: dict[str, Any] = {"generation": None, "doc": None}

    async def openapi_doc(request: Request) -> Response:
        if spec["generation"] != host.generation:
            models = {}
            for name, route in host.routes.items():
                model = route["production"]
                models[name] = (model.columns, model.label_values())
            spec["doc"], spec["generation"] = orjson.dumps(openapi(models)), host.generation
        return Response(spec["doc"], media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/models/{name}:predict", predict, methods=["POST"]),
            Route("/v1/models/{name}/versions/{version}:predict", predict, methods=["POST"]),
            Route("/v1/models/{name}:feedback", feedback, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{name}", show_model, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route("/openapi.json", openapi_doc, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.host = host
    app.state.request_log = request_log
    app.state.auth = auth
    app.state.stop = stop
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
