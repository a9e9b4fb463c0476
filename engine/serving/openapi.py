"""The scoring service's OpenAPI description (served at /openapi.json).

Every deployed model's routes are described with that model's exact input schema (columns,
types, null for missing) and label values, so a client generator — or a fuzzer — knows what each
model accepts. With no model deployed yet, the generic ``{name}`` routes show the shapes.
"""

from __future__ import annotations

from typing import Any

MAX_BATCH = 1000
_INTEGER = ("tinyint", "smallint", "int", "bigint")
_NUMBER = (*_INTEGER, "float", "double")

_ERROR = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    }
}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, **_ERROR}


_AUTH = {
    "401": _err("API key missing or not valid (when keys are configured)"),
    "403": _err("The API key lacks the scope for this model"),
}
_BODY = {
    "400": _err("Malformed body (not JSON, not an object, no instances)"),
    "413": _err("Body over the size limit, or more than 1,000 instances"),
    "415": _err("The body is not JSON (form and text bodies are refused)"),
}
_PRED = {
    "type": "object",
    "required": ["id", "score", "prediction"],
    "properties": {
        "id": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "prediction": {"type": "integer", "enum": [0, 1]},
        "points": {"type": "number", "description": "A scorecard's points (scorecards only)."},
        "reasons": {"type": "array", "items": {"type": "object"}},
    },
}
_SCORES = {
    "description": "Scores",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["model", "version", "request_id", "predictions"],
                "properties": {
                    "model": {"type": "string"},
                    "version": {"type": "integer"},
                    "request_id": {"type": "string"},
                    "predictions": {"type": "array", "items": _PRED},
                },
            }
        }
    },
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {
    "name": "version",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_EXPLAIN = {"name": "explain", "in": "query", "schema": {"type": "boolean"}}


def _batch(instance: dict[str, Any]) -> dict[str, Any]:
    items = {"type": "array", "items": instance, "minItems": 1, "maxItems": MAX_BATCH}

    def shape(key: str, other: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [key],
            "properties": {key: items},
            "not": {"required": [other]},
        }

    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        shape("instances", "dataframe_records"),
                        shape("dataframe_records", "instances"),
                    ]
                }
            }
        },
    }


def _predict(summary: str, params: list[dict[str, Any]], instance: dict[str, Any]) -> dict:
    return {
        "post": {
            "summary": summary,
            "parameters": params,
            "requestBody": _batch(instance),
            "responses": {
                "200": _SCORES,
                **_BODY,
                **_AUTH,
                "404": _err("Unknown model or version"),
                "422": _err("An instance lacks a column or has a wrong type; the field is named"),
                "503": _err("Busy with large batches; retry after Retry-After seconds"),
            },
        }
    }


_PREDICTION_ID = r"^[0-9a-f]{32}\.[0-9]{1,4}\.[0-9a-f]{32}/[0-9]{1,4}$"


def _feedback(params: list[dict[str, Any]], label: dict[str, Any]) -> dict:
    return {
        "post": {
            "summary": "Record the true outcome of a prediction this service made",
            "parameters": params,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["id", "label"],
                            "properties": {
                                "id": {"type": "string", "pattern": _PREDICTION_ID},
                                "label": label,
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Recorded",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status", "id"],
                                "properties": {
                                    "status": {"const": "recorded"},
                                    "id": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                **_BODY,
                **_AUTH,
                "404": _err("Unknown model, or a prediction id this service did not issue for it"),
                "422": _err("Missing or malformed id, or a label that is not one of the model's"),
            },
        }
    }


def _column(ctype: str) -> dict[str, Any]:
    if ctype in _INTEGER:
        return {"type": ["integer", "null"]}
    if ctype in _NUMBER or ctype.startswith("decimal"):
        return {"type": ["number", "null"]}
    if ctype == "boolean":
        return {"type": ["boolean", "null"]}
    if ctype == "date":
        return {"type": ["string", "null"], "format": "date"}
    if ctype.startswith("timestamp"):
        return {"type": ["string", "null"], "format": "date-time"}
    return {"type": ["string", "null"]}


def _model_paths(name: str, columns: list[tuple[str, str]], labels: list[Any]) -> dict:
    instance = {
        "type": "object",
        "required": [n for n, _ in columns],
        "properties": {n: _column(t) for n, t in columns},
        "additionalProperties": True,
        "description": "the model's input columns (null for a missing value); other fields are ignored",
    }
    base = f"/v1/models/{name}"
    return {
        f"{base}:predict": _predict(f"Score with {name}", [_EXPLAIN], instance),
        f"{base}/versions/{{version}}:predict": _predict(
            f"Score with one version of {name}", [_VERSION, _EXPLAIN], instance
        ),
        f"{base}:feedback": _feedback([], {"enum": labels}),
    }


def _generic(name: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "/v1/models/{name}:predict": _predict(
            "Score with the production (or canary) version", [name, _EXPLAIN], {"type": "object"}
        ),
        "/v1/models/{name}/versions/{version}:predict": _predict(
            "Score with one version", [name, _VERSION, _EXPLAIN], {"type": "object"}
        ),
        "/v1/models/{name}:feedback": _feedback([name], {}),
        "/v1/models": {
            "get": {
                "summary": "Deployed models (those the API key may read)",
                "responses": {"200": {"description": "Models"}, **_AUTH},
            }
        },
        "/v1/models/{name}": {
            "get": {
                "summary": "One deployed model: inputs, threshold, metrics, canary",
                "parameters": [_NAME],
                "responses": {"200": {"description": "Model"}, **_AUTH, "404": _err("Unknown")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness; status is 'degraded' (with a reason) while the request log "
                "cannot be written; workspace is the id of the workspace whose models it serves",
                "responses": {"200": {"description": "Up"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Metrics"}, **_AUTH},
            }
        },
    }


def openapi(models: dict[str, tuple[list[tuple[str, str]], list[Any]]]) -> dict[str, Any]:
    """The description for the deployed models: name -> (input columns, label values)."""
    paths = _generic(_NAME)
    if models:  # each deployed model's own routes say exactly what it accepts
        for generic in ("{name}:predict", "{name}/versions/{version}:predict", "{name}:feedback"):
            del paths[f"/v1/models/{generic}"]
    for name, (columns, labels) in sorted(models.items()):
        paths.update(_model_paths(name, columns, labels))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Seer scoring service", "version": "1"},
        "paths": paths,
    }
