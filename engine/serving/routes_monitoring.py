"""`GET /v1/models/{name}/monitoring[?window=1h&since=ISO8601]`: the model's monitoring windows
(traffic, errors, latency, drift, live accuracy) and alerts, computed from the request log by
engine.monitoring in a thread of its own (never in the scoring threads)."""

from __future__ import annotations

from functools import partial

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.monitoring.windows import MonitoringError, monitoring
from engine.serving.scoring import RequestError
from engine.serving.service import Service, error_response, json_response


class MonitoringRoutes:
    def __init__(self, service: Service):
        self.s = service
        self._limiter: anyio.CapacityLimiter | None = None

    async def monitoring(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            self.s.auth.check(request, name, "read")
            if not self.s.host.deployed(name):
                raise RequestError(404, self.s.host.unknown(name))
            known = {"window", "since"}
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                raise RequestError(
                    400, f"Unknown query parameter {unknown[0]!r}: use window and since."
                )
            work = partial(
                monitoring,
                self.s.workspace,
                name,
                request.query_params.get("window", "1h"),
                request.query_params.get("since"),
                strict=True,
            )
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(1)
            try:
                doc = await anyio.to_thread.run_sync(work, limiter=self._limiter)
            except MonitoringError as exc:
                raise RequestError(400, str(exc)) from None
        except RequestError as exc:
            return error_response(exc)
        return json_response(doc)

    def routes(self) -> list[Route]:
        return [Route("/v1/models/{name}/monitoring", self.monitoring, methods=["GET"])]
