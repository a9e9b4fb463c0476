"""The scoring service: a lean Starlette app that hosts every deployed model of a workspace.

It imports neither pyspark, pandas, pyarrow nor the lightgbm Python package. It watches the
registry and picks up publish/promote/rollback/canary changes without a restart: a new version is
loaded fully, then swapped in, so no request in flight fails. Every scored request and every
feedback record is logged to append-only files, off the hot path, through a bounded queue whose
drops are counted in /metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
import uuid
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.model_registry import ModelRegistry
from engine.serving.scoring import LoadedModel, RequestError
from engine.workspace import Workspace

log = logging.getLogger(__name__)
MAX_BATCH = 1000
LOG_QUEUE = 10_000
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class ModelHost:
    """The loaded versions of every model, refreshed from the registry."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry
        self._loaded: dict[tuple[str, int], LoadedModel] = {}
        self.routes: dict[str, dict[str, Any]] = {}
        self.generation = -1
        self.refresh()

    def refresh(self) -> None:
        gen = self.registry.generation()
        if gen == self.generation:
            return
        routes: dict[str, dict[str, Any]] = {}
        loaded = dict(self._loaded)
        for route in self.registry.routes():
            wanted = [v for v in (route.production, route.canary) if v is not None]
            for v in wanted:
                if (route.name, v) not in loaded:
                    try:
                        loaded[(route.name, v)] = LoadedModel(
                            route.name, v, self.registry.path(route.name, v)
                        )
                    except Exception:
                        log.exception("cannot load %s version %s", route.name, v)
            if route.production is not None and (route.name, route.production) in loaded:
                routes[route.name] = {
                    "production": loaded[(route.name, route.production)],
                    "canary": loaded.get((route.name, route.canary)) if route.canary else None,
                    "percent": route.canary_percent,
                }
        self._loaded = loaded
        self.routes = routes  # one assignment: requests see the old or the new table, never half
        self.generation = gen

    def version(self, name: str, version: int) -> LoadedModel:
        model = self._loaded.get((name, version))
        if model is None:
            try:
                path = self.registry.path(name, version)
            except ValueError as exc:
                raise RequestError(404, str(exc)) from None
            model = LoadedModel(name, version, path)
            self._loaded[(name, version)] = model
        return model

    def pick(self, name: str, request_id: str) -> LoadedModel:
        route = self.routes.get(name)
        if route is None:
            known = ", ".join(sorted(self.routes)) or "none"
            raise RequestError(404, f'No deployed model named "{name}" (models: {known}).')
        canary = route["canary"]
        if canary is not None and zlib.crc32(request_id.encode()) % 10_000 < route["percent"] * 100:
            return canary
        return route["production"]


class RequestLog:
    """Append-only JSON-lines files per model and day, written by one background thread."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.queue: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue(LOG_QUEUE)
        self.dropped = 0
        self._thread = threading.Thread(target=self._write, name="seer-request-log", daemon=True)
        self._thread.start()

    def put(self, model: str, kind: str, record: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((model, kind, record))
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        end = time.time() + timeout
        while not self.queue.empty() and time.time() < end:
            time.sleep(0.01)
        time.sleep(0.05)

    def _write(self) -> None:
        handles: dict[Path, Any] = {}
        while True:
            batch = [self.queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
            touched = set()
            for model, kind, record in batch:
                path = self.folder / model / f"{kind}-{day}.jsonl"
                fh = handles.get(path)
                if fh is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    fh = handles[path] = open(path, "ab")  # noqa: SIM115 - kept open for appends
                fh.write(orjson.dumps(record) + b"\n")
                touched.add(path)
            for path in touched:
                handles[path].flush()


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()

    def observe(self, model: str, version: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(model, version, status)] += 1
            buckets = self.latency.setdefault((model, version), [0.0] * (len(LATENCY_BUCKETS) + 2))
            for i, b in enumerate(LATENCY_BUCKETS):
                if seconds <= b:
                    buckets[i] += 1
            buckets[-2] += 1  # count
            buckets[-1] += seconds  # sum

    def render(self, dropped: int) -> str:
        lines = [
            "# HELP seer_requests_total Scoring requests by model, version and HTTP status.",
            "# TYPE seer_requests_total counter",
        ]
        with self.lock:
            for (m, v, s), n in sorted(self.requests.items()):
                lines.append(f'seer_requests_total{{model="{m}",version="{v}",status="{s}"}} {n}')
            lines += [
                "# HELP seer_request_seconds Scoring latency.",
                "# TYPE seer_request_seconds histogram",
            ]
            for (m, v), b in sorted(self.latency.items()):
                for i, bound in enumerate(LATENCY_BUCKETS):
                    lines.append(
                        f'seer_request_seconds_bucket{{model="{m}",version="{v}",le="{bound}"}} {int(b[i])}'
                    )
                lines.append(
                    f'seer_request_seconds_bucket{{model="{m}",version="{v}",le="+Inf"}} {int(b[-2])}'
                )
                lines.append(
                    f'seer_request_seconds_count{{model="{m}",version="{v}"}} {int(b[-2])}'
                )
                lines.append(f'seer_request_seconds_sum{{model="{m}",version="{v}"}} {b[-1]:.6f}')
        lines += [
            "# HELP seer_request_log_dropped_total Log records dropped because the log queue was full.",
            "# TYPE seer_request_log_dropped_total counter",
            f"seer_request_log_dropped_total {dropped}",
        ]
        return "\n".join(lines) + "\n"


def create_app(
    workspace: Workspace, api_keys: set[str] | None = None, poll_seconds: float = 0.5
) -> Starlette:
    registry = ModelRegistry(workspace)
    host = ModelHost(registry)
    request_log = RequestLog(workspace.logs_dir / "serving")
    metrics = Metrics()
    keys = set(api_keys or ())
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(poll_seconds):
            try:
                host.refresh()
            except Exception:
                log.exception("registry refresh failed")

    threading.Thread(target=poll, name="seer-registry-watch", daemon=True).start()

    def authorized(request: Request) -> bool:
        if not keys:
            return True
        auth = request.headers.get("authorization", "")
        key = (
            auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        )
        return key in keys

    async def parse(request: Request) -> dict[str, Any]:
        body = await request.body()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, f"The body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise RequestError(400, "The body must be a JSON object.")
        return data

    async def predict(request: Request) -> Response:
        start = time.perf_counter()
        name = request.path_params["name"]
        version_text = request.path_params.get("version")
        model_label, version_label, status = name, "-", 200
        try:
            if not authorized(request):
                raise RequestError(
                    401, "Missing or wrong API key (send Authorization: Bearer <key>)."
                )
            data = await parse(request)
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
            request_id = uuid.uuid4().hex
            if version_text is not None:
                try:
                    version = int(version_text)
                except ValueError:
                    raise RequestError(404, f"Version {version_text!r} is not a number.") from None
                model = host.version(name, version)
            else:
                model = host.pick(name, request_id)
            version_label = str(model.version)
            model.validate(instances)
            scores = model.scores(instances)
            explain = request.query_params.get("explain") in ("1", "true")
            preds = []
            for i, (row, s) in enumerate(zip(instances, scores, strict=True)):
                p: dict[str, Any] = {
                    "id": f"{request_id}/{i}",
                    "score": s,
                    "prediction": int(s >= model.threshold),
                }
                if explain:
                    p["reasons"] = model.explain(row)
                preds.append(p)
            request_log.put(
                name,
                "predictions",
                {
                    "ts": time.time(),
                    "request_id": request_id,
                    "model": name,
                    "version": model.version,
                    "instances": instances,
                    "predictions": [
                        {"score": p["score"], "prediction": p["prediction"]} for p in preds
                    ],
                },
            )
            return _json(
                {
                    "model": name,
                    "version": model.version,
                    "request_id": request_id,
                    "predictions": preds,
                }
            )
        except RequestError as exc:
            status = exc.status
            return _error(exc.status, str(exc))
        except Exception as exc:  # never a crashed worker, never a traceback to the client
            log.exception("scoring failed")
            status = 500
            return _error(500, f"Scoring failed: {type(exc).__name__}. See the service log.")
        finally:
            metrics.observe(model_label, version_label, status, time.perf_counter() - start)

    async def feedback(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            if not authorized(request):
                raise RequestError(
                    401, "Missing or wrong API key (send Authorization: Bearer <key>)."
                )
            data = await parse(request)
            pid, label = data.get("id"), data.get("label")
            if not isinstance(pid, str) or "/" not in pid:
                raise RequestError(
                    422, 'Feedback needs "id": the prediction id ("<request_id>/<index>").'
                )
            if label is None or isinstance(label, (dict, list)):
                raise RequestError(422, 'Feedback needs "label": the true outcome (e.g. 1 or 0).')
            if name not in host.routes:
                raise RequestError(404, f'No deployed model named "{name}".')
            request_log.put(name, "feedback", {"ts": time.time(), "id": pid, "label": label})
            return _json({"status": "recorded", "id": pid})
        except RequestError as exc:
            return _error(exc.status, str(exc))

    async def list_models(request: Request) -> Response:
        return _json({"models": [describe(n) for n in sorted(host.routes)]})

    def describe(name: str) -> dict[str, Any]:
        route = host.routes[name]
        out = {"name": name, "production": route["production"].describe()}
        if route["canary"] is not None:
            out["canary"] = {**route["canary"].describe(), "percent": route["percent"]}
        return out

    async def show_model(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in host.routes:
            return _error(404, f'No deployed model named "{name}".')
        return _json(describe(name))

    async def healthz(request: Request) -> Response:
        return _json(
            {"status": "ok", "models": len(host.routes), "registry_generation": host.generation}
        )

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(request_log.dropped), media_type="text/plain; version=0.0.4")

    async def openapi(request: Request) -> Response:
        return _json(OPENAPI)

    app = Starlette(
        routes=[
            Route("/v1/models/{name}:predict", predict, methods=["POST"]),
            Route("/v1/models/{name}/versions/{version}:predict", predict, methods=["POST"]),
            Route("/v1/models/{name}:feedback", feedback, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{name}", show_model, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ]
    )
    app.state.host = host
    app.state.request_log = request_log
    app.state.stop = stop
    return app


def api_keys_from_env() -> set[str]:
    return {k.strip() for k in os.environ.get("SEER_API_KEYS", "").split(",") if k.strip()}


_INSTANCE = {
    "type": "object",
    "additionalProperties": True,
    "description": "column: value; null for missing",
}
_PRED = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "score": {"type": "number"},
        "prediction": {"type": "integer"},
    },
}
_PREDICT = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "instances": {"type": "array", "items": _INSTANCE, "maxItems": MAX_BATCH},
                        "dataframe_records": {
                            "type": "array",
                            "items": _INSTANCE,
                            "maxItems": MAX_BATCH,
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "Scores",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "model": {"type": "string"},
                            "version": {"type": "integer"},
                            "request_id": {"type": "string"},
                            "predictions": {"type": "array", "items": _PRED},
                        },
                    }
                }
            },
        },
        "400": {"description": "Malformed body"},
        "401": {"description": "API key missing or wrong"},
        "404": {"description": "Unknown model or version"},
        "413": {"description": "Batch over the limit"},
        "422": {
            "description": "An instance lacks a column or has a wrong type; the field is named"
        },
    },
}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Seer scoring service", "version": "1"},
    "paths": {
        "/v1/models/{name}:predict": {
            "post": {
                "summary": "Score with the production (or canary) version",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
                ],
                **_PREDICT,
            }
        },
        "/v1/models/{name}/versions/{version}:predict": {
            "post": {
                "summary": "Score with one version",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                **_PREDICT,
            }
        },
        "/v1/models/{name}:feedback": {
            "post": {
                "summary": "Record the true outcome of a prediction",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["id", "label"],
                                "properties": {"id": {"type": "string"}, "label": {}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Recorded"},
                    "404": {"description": "Unknown model"},
                    "422": {"description": "Missing id or label"},
                },
            }
        },
        "/v1/models": {
            "get": {"summary": "Deployed models", "responses": {"200": {"description": "Models"}}}
        },
        "/v1/models/{name}": {
            "get": {
                "summary": "One deployed model",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "Model"}, "404": {"description": "Unknown"}},
            }
        },
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Metrics"}},
            }
        },
    },
}
