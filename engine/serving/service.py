"""What every protocol of the scoring service shares: the hosted models, API keys, prediction
ids, the request log, metrics, the pool of worker threads for large batches, and the one
scoring path every protocol goes through (so the same rows get the same scores whichever
protocol carries them).

Each protocol (engine/serving/routes_*.py) only translates its wire format to and from rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from engine.model_registry import ModelRegistry
from engine.serving.host import ModelHost
from engine.serving.metrics import UNKNOWN_MODEL, Metrics
from engine.serving.openapi import MAX_BATCH
from engine.serving.request_log import RequestLog
from engine.serving.scoring import LoadedModel, RequestError
from engine.serving.security import Authorizer, PredictionIds, read_body, workspace_secret
from engine.serving.shadow import ShadowMirror
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
    # the model `POST /invocations` (MLflow's scoring protocol) scores when no header names one
    mlflow_model: str | None = None


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(exc: RequestError) -> Response:
    resp = json_response({"error": str(exc)}, exc.status)
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


def _nan_as_null(constant: str) -> None:
    if constant != "NaN":
        raise ValueError(f"{constant} is not a number a model can score")


def parse_json(body: bytes, nan_as_null: bool = False) -> dict[str, Any]:
    """A JSON object. With ``nan_as_null``, a bare NaN (which pandas, numpy and Triton's client
    write for a missing number) is read as null; strict JSON is tried first (fast)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not nan_as_null:
            raise RequestError(400, f"The body is not valid JSON: {exc}.") from None
        try:
            data = json.loads(body, parse_constant=_nan_as_null)
        except ValueError as again:
            raise RequestError(400, f"The body is not valid JSON: {again}.") from None
    if not isinstance(data, dict):
        raise RequestError(400, "The body must be a JSON object.")
    return data


def check_batch(instances: Any, what: str = '"instances"') -> list[Any]:
    """A batch of 1 to MAX_BATCH rows."""
    if not isinstance(instances, list):
        raise RequestError(400, f"{what} must be a list of objects.")
    if not instances:
        raise RequestError(400, f"{what} is empty: send at least one.")
    if len(instances) > MAX_BATCH:
        raise RequestError(
            413, f"A request may hold at most {MAX_BATCH} instances. Got {len(instances)}."
        )
    return instances


@dataclass
class Scored:
    """One scored batch, for a protocol to render."""

    model: LoadedModel
    name: str
    request_id: str
    scores: list[float]
    predictions: list[int]
    reasons: list[list[dict[str, Any]]] | None
    warnings: list[dict[str, Any]] | None
    points: list[float] | None = None  # a scorecard's points

    def ids(self) -> list[str]:
        return [f"{self.request_id}/{i}" for i in range(len(self.scores))]


def score_batch(
    model: LoadedModel,
    name: str,
    instances: list[Any],
    request_id: str,
    explain: bool,
    render: Callable[[Scored], T],
) -> tuple[T, dict[str, Any]]:
    """Validate, score (and explain) a batch; returns the rendered body and the log record."""
    model.validate(instances)
    scores = model.scores(instances)
    threshold = model.threshold
    scored = Scored(
        model,
        name,
        request_id,
        scores,
        [int(s >= threshold) for s in scores],
        model.explain_rows(instances) if explain else None,
        model.unseen_categories(instances),
        model.points(instances),
    )
    record = {
        "ts": time.time(),
        "request_id": request_id,
        "model": name,
        "version": model.version,
        "instances": [model.inputs_of(r) for r in instances],  # the model's inputs only
        "predictions": [
            {"score": s, "prediction": p}
            for s, p in zip(scored.scores, scored.predictions, strict=True)
        ],
    }
    return render(scored), record


@dataclass
class Call:
    """What the metrics of one request need to know (filled in as the request goes)."""

    name: str
    version: str = "-"
    record: dict[str, Any] | None = None  # the predictions log record, written when answered


class Service:
    """The state the routes of every protocol share."""

    def __init__(self, workspace: Workspace, opts: ServeOptions):
        self.opts = opts
        self.workspace = workspace
        self.max_body = int(opts.max_body_mb * 2**20)
        self.host = ModelHost(ModelRegistry(workspace))
        self.auth = Authorizer(workspace.store, set(opts.api_keys), opts.public_metrics)
        self.ids = PredictionIds(workspace_secret(workspace.root))
        self.request_log = RequestLog(workspace.logs_dir / "serving")
        self.shadows = ShadowMirror(self.request_log)
        self.workspace_id = workspace.store.workspace_id()  # /healthz says whose models these are
        self.metrics = Metrics()
        self.stop = threading.Event()
        self._pending = 0
        self._limiter: anyio.CapacityLimiter | None = None

    def _poll(self) -> None:
        while not self.stop.wait(self.opts.poll_seconds):
            try:
                self.host.refresh()
                self.auth.refresh()
            except Exception:
                log.exception("registry refresh failed")

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._limiter = anyio.CapacityLimiter(self.opts.worker_threads)
        self.request_log.start()
        self.shadows.start()
        watcher = threading.Thread(target=self._poll, name="seer-registry-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            self.stop.set()
            self.shadows.stop()
            self.request_log.stop()  # writes what is queued: a clean shutdown loses no record

    async def off_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a worker thread; 503 when the threads and their queue are full."""
        limiter = self._limiter
        if limiter is None:  # used without its lifespan (a bare ASGI test client)
            return fn()
        if self._pending >= self.opts.worker_threads + self.opts.queued_batches:
            self.metrics.busy_rejections += 1
            raise RequestError(
                503,
                "The service is busy with large batches; retry in a second, or send smaller "
                "batches (explanations especially).",
                {"Retry-After": "1"},
            )
        self._pending += 1
        try:
            return await anyio.to_thread.run_sync(partial(_background, fn), limiter=limiter)
        finally:
            self._pending -= 1

    async def read(self, request: Request) -> bytes:
        return await read_body(request, self.max_body)

    async def read_json(self, request: Request, nan_as_null: bool = False) -> dict[str, Any]:
        body = await self.read(request)
        if len(body) > INLINE_BODY_BYTES:
            return await self.off_loop(partial(parse_json, body, nan_as_null))
        return parse_json(body, nan_as_null)

    def model_for(self, name: str, version_text: str | None, token: str) -> LoadedModel:
        if version_text is not None:
            return self.host.version(name, version_text)
        return self.host.pick(name, token)

    async def score(
        self,
        call: Call,
        version_text: str | None,
        instances: list[Any],
        explain: bool,
        render: Callable[[Scored], T],
    ) -> T:
        """Score ``instances`` with model ``call.name`` (one version, or production/canary),
        log them, and return ``render``'s body. Large or explained batches go off the loop."""
        token = self.ids.token()
        model = self.model_for(call.name, version_text, token)
        call.version = str(model.version)
        request_id = self.ids.request_id(call.name, token, len(instances))
        work = partial(score_batch, model, call.name, instances, request_id, explain, render)
        inline = len(instances) <= (INLINE_EXPLAINED if explain else INLINE_INSTANCES)
        payload, call.record = work() if inline else await self.off_loop(work)
        if version_text is None:  # a routed request: mirrored to the shadow version, if any
            shadow = self.host.shadow(call.name)
            if shadow is not None:
                self.shadows.put(shadow, call.name, request_id, instances)
        return payload

    async def answer(
        self,
        name: str,
        handler: Callable[[Call], Awaitable[Response]],
        on_error: Callable[[RequestError], Response] = error_response,
    ) -> Response:
        """Run ``handler``; a RequestError becomes its status and message, anything else a 500
        without a traceback; the request is counted in the metrics either way."""
        start = time.perf_counter()
        call, status = Call(name), 200
        try:
            response = await handler(call)
            status = response.status_code
            return response
        except RequestError as exc:
            status = exc.status
            return on_error(exc)
        except Exception as exc:  # never a crashed worker, never a traceback to the client
            log.exception("scoring failed")
            status = 500
            return on_error(
                RequestError(500, f"Scoring failed: {type(exc).__name__}. See the service log.")
            )
        finally:
            seconds = time.perf_counter() - start
            deployed = self.host.deployed(name)
            self.metrics.observe(name if deployed else UNKNOWN_MODEL, call.version, status, seconds)
            self._log_request(call, deployed, status, seconds)

    def _log_request(self, call: Call, deployed: bool, status: int, seconds: float) -> None:
        """The request in the log (written off the hot path): a scored request's record with
        its latency and status, or an error record (time, version, status, latency) for one
        answered 4xx/5xx — monitoring counts errors from these, so they survive a restart."""
        latency_ms = round(seconds * 1000, 3)
        if call.record is not None and status < 400:
            call.record["latency_ms"] = latency_ms
            call.record["status"] = status
            self.request_log.put(call.name, "predictions", call.record)
        elif status >= 400 and deployed:  # an unknown name never names a log folder
            version: Any = call.version
            if version == "-":
                version = self.host.production_version(call.name)
            elif version.isdigit():
                version = int(version)
            record = {"ts": time.time(), "version": version, "status": status}
            self.request_log.put(call.name, "errors", {**record, "latency_ms": latency_ms})
