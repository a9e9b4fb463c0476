"""MLflow's scoring protocol, as `mlflow models serve` speaks it: `GET /ping`, `GET /health`,
`GET /version` and `POST /invocations` with a JSON body (`dataframe_split`,
`dataframe_records`, `instances` or `inputs`) or a CSV body.

An MLflow server serves one model; so does this route. It scores with the production (or
canary) version of the model named by the `X-Seer-Model` header, else the one `seer serve
--mlflow-model NAME` names, else the only deployed model when there is exactly one.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from engine.serving.scoring import LoadedModel, RequestError
from engine.serving.service import Call, Scored, Service, check_batch, json_response

MODEL_HEADER = "x-seer-model"
_INTEGER = ("tinyint", "smallint", "int", "bigint")
_NUMBER = (*_INTEGER, "float", "double")
_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_CSV_TYPES = ("text/csv", "application/csv")
_JSON_TYPES = ("application/json", "")


def _error(exc: RequestError) -> Response:
    """MLflow's error body: an error code and a message."""
    code = "BAD_REQUEST" if exc.status < 500 else "INTERNAL_ERROR"
    resp = json_response({"error_code": code, "message": str(exc)}, exc.status)
    resp.headers.update(exc.headers)
    return resp


def _records(data: Any, key: str) -> list[Any]:
    """Rows from MLflow's JSON inputs: a list of records, or columns (name -> values)."""
    if isinstance(data, dict):
        cols = {k: v if isinstance(v, list) else [v] for k, v in data.items()}
        sizes = {len(v) for v in cols.values()}
        if len(sizes) > 1:
            raise RequestError(400, f'"{key}": every column needs the same number of values.')
        names = list(cols)
        return [dict(zip(names, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    raise RequestError(
        400, f'"{key}" must be a list of records ({{column: value}}) or {{column: [values]}}.'
    )


def _split(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        raise RequestError(
            400, '"dataframe_split" needs "columns" and "data" (pandas orient=split).'
        )
    columns, rows = data["columns"], data.get("data")
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == len(columns) for r in rows
    ):
        raise RequestError(
            400, '"dataframe_split"."data" must be a list of rows, one value per column.'
        )
    return [dict(zip(columns, r, strict=True)) for r in rows]


def rows_from_json(doc: Any) -> list[Any]:
    if not isinstance(doc, dict) or not any(k in doc for k in _KEYS):
        raise RequestError(
            400, f"The body needs one of {', '.join(_KEYS)} (MLflow's scoring protocol)."
        )
    key = next(k for k in _KEYS if k in doc)
    rows = _split(doc[key]) if key == "dataframe_split" else _records(doc[key], key)
    return check_batch(rows, f'"{key}"')  # NaN was read as null already


def _cell(text: str, ctype: str) -> Any:
    """A CSV cell as the model's column type; an empty cell is a missing value."""
    if text == "":
        return None
    try:
        if ctype in _INTEGER:
            number = float(text)
            return int(number) if number.is_integer() else number
        if ctype in _NUMBER or ctype.startswith("decimal"):
            return float(text)
    except ValueError:
        return text  # validation names the field and the type it needs
    if ctype == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(text.lower(), text)
    return text


def rows_from_csv(body: bytes, model: LoadedModel) -> list[Any]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestError(400, "The CSV body is not UTF-8 text.") from None
    reader = csv.DictReader(io.StringIO(text))
    types = dict(model.columns)
    rows = [
        {k: _cell(v or "", types[k]) if k in types else v for k, v in r.items() if k}
        for r in reader
    ]
    return check_batch(rows, "The CSV body")


def render_mlflow(scored: Scored) -> bytes:
    preds = [
        {"score": s, "prediction": p, "id": i}
        for s, p, i in zip(scored.scores, scored.predictions, scored.ids(), strict=True)
    ]
    if scored.points is not None:  # a scorecard's points
        for pred, points in zip(preds, scored.points, strict=True):
            pred["points"] = points
    doc: dict[str, Any] = {"predictions": preds}
    if scored.warnings:
        doc["warnings"] = scored.warnings
    return orjson.dumps(doc)


class MlflowRoutes:
    def __init__(self, service: Service):
        self.s = service

    def model_name(self, request: Request) -> str:
        name = request.headers.get(MODEL_HEADER) or self.s.opts.mlflow_model
        if name:
            return name
        deployed = sorted(self.s.host.routes)
        if len(deployed) == 1:
            return deployed[0]
        raise RequestError(
            400,
            f"Say which model /invocations scores: send the header X-Seer-Model: NAME, or start "
            f"the service with `seer serve --mlflow-model NAME` (models: "
            f"{', '.join(deployed) or 'none'}).",
        )

    async def _rows(self, request: Request, name: str) -> list[Any]:
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype in _CSV_TYPES:
            return rows_from_csv(await self.s.read(request), self.s.host.any_version(name))
        if ctype not in _JSON_TYPES:
            raise RequestError(
                415, f"/invocations takes application/json or text/csv. Got {ctype[:60]!r}."
            )
        return rows_from_json(await self.s.read_json(request, nan_as_null=True))

    async def invocations(self, request: Request) -> Response:
        try:
            name = self.model_name(request)
        except RequestError as exc:
            return _error(exc)

        async def handle(call: Call) -> Response:
            self.s.auth.check(request, name, "score")
            rows = await self._rows(request, name)
            body = await self.s.score(call, None, rows, False, render_mlflow)
            return Response(body, media_type="application/json")

        return await self.s.answer(name, handle, _error)

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("\n")

    async def version(self, request: Request) -> Response:
        return PlainTextResponse("seer-1")

    def routes(self) -> list[Route]:
        return [
            Route("/ping", self.ping, methods=["GET"]),
            Route("/health", self.ping, methods=["GET"]),
            Route("/version", self.version, methods=["GET"]),
            Route("/invocations", self.invocations, methods=["POST"]),
        ]
