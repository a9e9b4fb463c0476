"""Seer's own routes, which are KServe's v1 protocol: `:predict`, `:explain`, `:feedback`, the
model list, one model's description (with KServe's `"ready"`), and `GET /` for liveness."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.serving.scoring import RequestError
from engine.serving.security import require_json
from engine.serving.service import (
    Call,
    Scored,
    Service,
    check_batch,
    error_response,
    json_response,
)


def flag(request: Request, name: str) -> bool:
    text = request.query_params.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise RequestError(400, f"?{name}= takes true or false. Got {text[:40]!r}.")
    return text in ("true", "1")


def instances_of(data: dict[str, Any]) -> list[Any]:
    instances = data.get("instances", data.get("dataframe_records"))
    if instances is None:
        raise RequestError(400, 'The body needs "instances": [{column: value, ...}, ...].')
    return check_batch(instances)


def render_v1(scored: Scored) -> bytes:
    preds = []
    threshold_preds, reasons = scored.predictions, scored.reasons
    for i, s in enumerate(scored.scores):
        p: dict[str, Any] = {
            "id": f"{scored.request_id}/{i}",
            "score": s,
            "prediction": threshold_preds[i],
        }
        if scored.points is not None:
            p["points"] = scored.points[i]
        if reasons is not None:
            p["reasons"] = reasons[i]
        preds.append(p)
    doc: dict[str, Any] = {
        "model": scored.name,
        "version": scored.model.version,
        "request_id": scored.request_id,
        "predictions": preds,
    }
    if scored.warnings:
        doc["warnings"] = scored.warnings
    return orjson.dumps(doc)


class V1Routes:
    def __init__(self, service: Service):
        self.s = service

    async def _predict(self, request: Request, explain: bool | None) -> Response:
        name = request.path_params["name"]

        async def handle(call: Call) -> Response:
            self.s.auth.check(request, name, "score")
            require_json(request)
            instances = instances_of(await self.s.read_json(request))
            body = await self.s.score(
                call,
                request.path_params.get("version"),
                instances,
                flag(request, "explain") if explain is None else explain,
                render_v1,
            )
            return Response(body, media_type="application/json")

        return await self.s.answer(name, handle)

    async def predict(self, request: Request) -> Response:
        return await self._predict(request, None)

    async def explain(self, request: Request) -> Response:
        """KServe's `:explain`: the scores with each prediction's top reasons."""
        return await self._predict(request, True)

    async def feedback(self, request: Request) -> Response:
        name = request.path_params["name"]
        s = self.s
        try:
            s.auth.check(request, name, "feedback")
            if request.headers.get("content-type") is None:
                raise RequestError(
                    415, "Feedback must be sent as JSON (Content-Type: application/json)."
                )
            require_json(request)
            data = await s.read_json(request)
            model = s.host.any_version(name)
            pid, label = data.get("id"), data.get("label")
            if not isinstance(pid, str) or "/" not in pid:
                raise RequestError(
                    422, 'Feedback needs "id": the prediction id ("<request_id>/<index>").'
                )
            if "label" not in data:
                raise RequestError(422, 'Feedback needs "label": the true outcome (e.g. 1 or 0).')
            s.ids.check(name, pid)
            model.check_label(label)
            s.request_log.put(name, "feedback", {"ts": time.time(), "id": pid, "label": label})
            return json_response({"status": "recorded", "id": pid})
        except RequestError as exc:
            return error_response(exc)

    def describe(self, name: str) -> dict[str, Any]:
        route = self.s.host.routes[name]
        out = {"name": name, "ready": True, "production": route["production"].describe()}
        if route["canary"] is not None:
            out["canary"] = {**route["canary"].describe(), "percent": route["percent"]}
        if route.get("shadow") is not None:  # mirrored to, never answering
            out["shadow"] = route["shadow"].describe()
        return out

    async def list_models(self, request: Request) -> Response:
        try:
            grant = self.s.auth.check(request, None, "read", any_model=True)
        except RequestError as exc:
            return error_response(exc)
        names = [n for n in sorted(self.s.host.routes) if self.s.auth.may_read(grant, n)]
        return json_response({"models": [self.describe(n) for n in names]})

    async def show_model(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            self.s.auth.check(request, name, "read")
            if not self.s.host.deployed(name):
                raise RequestError(404, self.s.host.unknown(name))
        except RequestError as exc:
            return error_response(exc)
        return json_response(self.describe(name))

    async def alive(self, request: Request) -> Response:
        """KServe's liveness answer at `GET /`."""
        return json_response({"status": "alive"})

    def routes(self) -> list[Route]:
        return [
            Route("/", self.alive, methods=["GET"]),
            Route("/v1/models/{name}:predict", self.predict, methods=["POST"]),
            Route("/v1/models/{name}/versions/{version}:predict", self.predict, methods=["POST"]),
            Route("/v1/models/{name}:explain", self.explain, methods=["POST"]),
            Route("/v1/models/{name}/versions/{version}:explain", self.explain, methods=["POST"]),
            Route("/v1/models/{name}:feedback", self.feedback, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{name}", self.show_model, methods=["GET"]),
        ]
