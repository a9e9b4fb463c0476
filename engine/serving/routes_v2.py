"""The Open Inference Protocol v2 over REST, as KServe and Triton define it: server and model
health, model metadata (one input tensor per column, with its datatype and shape) and `infer`,
answering the tensors `score` (FP64), `prediction` (INT64), `id` (BYTES, for feedback) and,
for a scorecard, `points` (FP64).

The rows go through the same scoring path as the v1 route, so their scores are the same.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.serving.scoring import LoadedModel, RequestError
from engine.serving.security import require_json
from engine.serving.service import (
    Call,
    Scored,
    Service,
    check_batch,
    error_response,
    json_response,
    parse_json,
)
from engine.serving.tensors import binary_tensor, datatype_of, read_tensors, rows_of, tensor

HEADER_LENGTH = "inference-header-content-length"
OUTPUTS = {"score": "FP64", "prediction": "INT64", "id": "BYTES"}
# a scorecard also answers its points
POINTS = {"points": "FP64"}
SERVER = {"name": "seer", "version": "1", "extensions": ["binary_tensor_data"]}


def metadata(name: str, model: LoadedModel, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": versions,
        "platform": f"seer_{model.kind}",
        "inputs": [
            {"name": n, "datatype": datatype_of(t), "shape": [-1]} for n, t in model.columns
        ],
        "outputs": [
            {"name": n, "datatype": d, "shape": [-1]}
            for n, d in {**OUTPUTS, **(POINTS if model.kind == "scorecard" else {})}.items()
        ],
    }


def _wanted_outputs(header: dict[str, Any]) -> list[tuple[str, bool]]:
    """The outputs asked for, each with whether it goes as binary tensor data."""
    params = header.get("parameters") or {}
    binary_default = bool(isinstance(params, dict) and params.get("binary_data_output"))
    asked = header.get("outputs")
    if asked is None:
        return [(n, binary_default) for n in [*OUTPUTS, *POINTS]]
    if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
        raise RequestError(400, '"outputs" must be a list of {"name": ...} objects.')
    wanted = []
    for o in asked:
        if o.get("name") not in OUTPUTS and o.get("name") not in POINTS:
            raise RequestError(
                400,
                f"Unknown output {o.get('name')!r}: models answer {', '.join(OUTPUTS)} "
                "(and points, scorecards).",
            )
        binary = (o.get("parameters") or {}).get("binary_data", binary_default)
        wanted.append((o["name"], bool(binary)))
    return wanted


def render_v2(header: dict[str, Any], wanted: list[tuple[str, bool]]) -> Any:
    explicit = header.get("outputs") is not None  # outputs asked for by name

    def render(scored: Scored) -> tuple[bytes, int | None]:
        data = {"score": scored.scores, "prediction": scored.predictions, "id": scored.ids()}
        types = dict(OUTPUTS)
        if scored.points is not None:
            data["points"], types["points"] = scored.points, POINTS["points"]
        outputs, chunks = [], []
        for name, binary in wanted:
            if name not in data:
                if explicit:
                    raise RequestError(
                        400, f"Output 'points' is a scorecard's; {scored.name} is not a scorecard."
                    )
                continue
            out = tensor(name, types[name], data[name])
            if binary:
                chunk = binary_tensor(types[name], data[name])
                del out["data"]
                out["parameters"] = {"binary_data_size": len(chunk)}
                chunks.append(chunk)
            outputs.append(out)
        parameters: dict[str, Any] = {"request_id": scored.request_id}
        if scored.warnings:
            parameters["warnings"] = scored.warnings
        if scored.reasons is not None:
            parameters["reasons"] = scored.reasons
        doc = orjson.dumps(
            {
                "model_name": scored.name,
                "model_version": str(scored.model.version),
                "id": header.get("id") if isinstance(header.get("id"), str) else scored.request_id,
                "parameters": parameters,
                "outputs": outputs,
            }
        )
        return (doc + b"".join(chunks), len(doc)) if chunks else (doc, None)

    return render


def infer_response(body: bytes, header_length: int | None) -> Response:
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )


class V2Routes:
    def __init__(self, service: Service):
        self.s = service

    async def _header_and_binary(self, request: Request) -> tuple[dict[str, Any], bytes]:
        length = request.headers.get(HEADER_LENGTH)
        if length is None:
            require_json(request)
            return await self.s.read_json(request, nan_as_null=True), b""
        body = await self.s.read(request)
        if not length.isdigit() or int(length) > len(body):
            raise RequestError(400, f"{HEADER_LENGTH} must be the length of the JSON header.")
        return parse_json(body[: int(length)], nan_as_null=True), body[int(length) :]

    async def infer(self, request: Request) -> Response:
        name = request.path_params["name"]

        async def handle(call: Call) -> Response:
            self.s.auth.check(request, name, "score")
            header, binary = await self._header_and_binary(request)
            columns = read_tensors(header, binary)
            rows = check_batch(rows_of(columns), '"inputs"')
            explain = bool((header.get("parameters") or {}).get("explain", False))
            render = render_v2(header, _wanted_outputs(header))
            body, header_length = await self.s.score(
                call, request.path_params.get("version"), rows, explain, render
            )
            return infer_response(body, header_length)

        return await self.s.answer(name, handle)

    def _model(self, request: Request) -> tuple[str, LoadedModel]:
        name = request.path_params["name"]
        self.s.auth.check(request, name, "read")
        version = request.path_params.get("version")
        model = (
            self.s.host.version(name, version)
            if version is not None
            else self.s.host.any_version(name)
        )
        return name, model

    async def model_metadata(self, request: Request) -> Response:
        try:
            name, model = self._model(request)
        except RequestError as exc:
            return error_response(exc)
        route = self.s.host.routes[name]
        versions = [str(m.version) for m in (route["production"], route["canary"]) if m]
        if str(model.version) not in versions:
            versions.append(str(model.version))
        return json_response(metadata(name, model, versions))

    async def model_ready(self, request: Request) -> Response:
        try:
            name, _ = self._model(request)
        except RequestError as exc:
            return error_response(exc)
        return json_response({"name": name, "ready": True})

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        return json_response({"ready": True})

    async def server(self, request: Request) -> Response:
        return json_response(SERVER)

    def routes(self) -> list[Route]:
        routes = [
            Route("/v2", self.server, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
        ]
        for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
            routes += [
                Route(base, self.model_metadata, methods=["GET"]),
                Route(f"{base}/ready", self.model_ready, methods=["GET"]),
                Route(f"{base}/infer", self.infer, methods=["POST"]),
            ]
        return routes
