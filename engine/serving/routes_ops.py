"""The service's own operational routes: `/healthz`, `/metrics` and `/openapi.json`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.serving.metrics import gauge
from engine.serving.openapi import openapi
from engine.serving.scoring import RequestError
from engine.serving.service import Service, error_response, json_response


class OpsRoutes:
    def __init__(self, service: Service):
        self.s = service
        self._spec: tuple[int, bytes] | None = None

    async def healthz(self, request: Request) -> Response:
        state = self.s.request_log.status()
        doc: dict[str, Any] = {
            "status": "ok" if state["ok"] else "degraded",
            "models": len(self.s.host.routes),
            "registry_generation": self.s.host.generation,
            "request_log": state,
            "workspace": self.s.workspace_id,
        }
        if not state["ok"]:
            doc["reason"] = f"The request log cannot be written: {state['error']}"
        return json_response(doc)

    async def prometheus(self, request: Request) -> Response:
        s = self.s
        if not s.opts.public_metrics:
            try:
                s.auth.check(request, None, "read")
            except RequestError as exc:
                return error_response(exc)
        log = s.request_log
        extra = [
            *gauge(
                "seer_request_log_dropped_total",
                "Log records dropped (log queue full, or the log could not be written).",
                log.dropped,
                "counter",
            ),
            *gauge(
                "seer_request_log_write_errors_total",
                "Failed writes of the request log (disk full, file too large, read-only...).",
                log.write_errors,
                "counter",
            ),
            *gauge(
                "seer_request_log_degraded",
                "1 while the request log cannot be written (see /healthz for the reason).",
                0 if log.error is None else 1,
            ),
        ]
        return Response(s.metrics.render(extra), media_type="text/plain; version=0.0.4")

    async def openapi_doc(self, request: Request) -> Response:
        host = self.s.host
        if self._spec is None or self._spec[0] != host.generation:
            models = {name: route["production"] for name, route in host.routes.items()}
            self._spec = (host.generation, orjson.dumps(openapi(models, self.s.opts.mlflow_model)))
        return Response(self._spec[1], media_type="application/json")

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/openapi.json", self.openapi_doc, methods=["GET"]),
        ]
