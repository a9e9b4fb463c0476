"""The scoring service's OpenAPI description (served at /openapi.json).

Every deployed model's routes are described with that model's exact input schema (columns,
types, null for missing) and label values, so a client generator — or a fuzzer — knows what each
model accepts. With no model deployed yet, the generic ``{name}`` routes show the shapes.
"""

from __future__ import annotations

import re
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
                    "warnings": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Warning"},
                    },
                },
            }
        }
    },
}
_WARNING = {
    "type": "object",
    "description": "A category value never seen in training: the model scores it as unknown",
    "required": ["field", "value", "instances", "known_values", "message"],
    "properties": {
        "field": {"type": "string"},
        "value": {"type": "string"},
        "instances": {"type": "array", "items": {"type": "integer"}},
        "known_values": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
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


_PROTOCOLS = (
    "Seer's own routes are KServe's v1 protocol (below). The same models also answer the Open "
    "Inference Protocol v2 (POST /v2/models/{name}[/versions/{v}]/infer, one tensor per input "
    "column as /v2/models/{name} lists them) and MLflow's scoring protocol (POST /invocations); "
    "those bodies follow their own specifications (see docs/serving.md)."
)
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


def schema_key(name: str) -> str:
    """A model's name as an OpenAPI component key (letters, digits, '.', '-', '_')."""
    return "Instance." + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def instance_schema(model: Any) -> dict[str, Any]:
    """One row a model scores: every input column (null for a missing value), its type, and
    for a category column the values seen in training (others are scored as unknown, with a
    warning in the response)."""
    properties = {}
    for col, ctype in model.columns:
        prop = _column(ctype)
        known = model.categories.get(col)
        if known:
            prop["examples"] = known[:20]
            prop["x-known-values"] = known
            prop["description"] = (
                "one of the values seen in training (x-known-values); another value is scored "
                "as unknown and named in the response's warnings; null for a missing value"
            )
        else:
            prop["description"] = f"{ctype}; null for a missing value"
        properties[col] = prop
    return {
        "type": "object",
        "title": f"An instance for {model.name}",
        "required": [n for n, _ in model.columns],
        "properties": properties,
        "additionalProperties": True,
        "description": "the model's input columns (null for a missing value); other fields are ignored",
    }


def _model_paths(name: str, labels: list[Any]) -> dict:
    instance = {"$ref": f"#/components/schemas/{schema_key(name)}"}
    base = f"/v1/models/{name}"
    return {
        f"{base}:predict": _predict(f"Score with {name}", [_EXPLAIN], instance),
        f"{base}/versions/{{version}}:predict": _predict(
            f"Score with one version of {name}", [_VERSION, _EXPLAIN], instance
        ),
        f"{base}:explain": _predict(
            f"Score with {name}, with each prediction's reasons", [], instance
        ),
        f"{base}:feedback": _feedback([], {"enum": labels}),
    }


def _get(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    ok = {"description": "OK", "content": {"application/json": {"schema": body}}}
    return {"get": {"summary": summary, "responses": {"200": ok}}}


def _standard_health() -> dict[str, Any]:
    """Liveness and readiness as KServe, Triton and MLflow clients ask for them."""

    def flag(key: str) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: {"const": True}}}

    text = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "/": _get(
            "KServe v1 liveness",
            {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"const": "alive"}},
            },
        ),
        "/v2/health/live": _get("Open Inference Protocol v2 liveness", flag("live")),
        "/v2/health/ready": _get("Open Inference Protocol v2 readiness", flag("ready")),
        "/ping": {"get": {"summary": "MLflow scoring protocol health", "responses": {"200": text}}},
        "/health": {
            "get": {"summary": "MLflow scoring protocol health", "responses": {"200": text}}
        },
    }


def _v2_get(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": {"description": "OK"}, **_AUTH, "404": _err("Unknown model")},
        }
    }


_NUM = {"type": ["number", "null"]}
_WINDOW = {
    "type": "object",
    "required": [
        "start",
        "end",
        "version",
        "shadow",
        "requests",
        "errors",
        "latency_ms",
        "score_psi",
        "features",
        "labeled",
    ],
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "version": {"type": ["integer", "string", "null"]},
        "shadow": {"type": "boolean", "description": "a shadow version's window (never served)"},
        "requests": {"type": "integer"},
        "errors": {"type": "integer", "description": "requests answered 4xx or 5xx"},
        "latency_ms": {
            "type": "object",
            "properties": {"p50": _NUM, "p99": _NUM},
        },
        "score_psi": _NUM,
        "features": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["psi"],
                "properties": {"psi": {"type": "number"}, "ks": {"type": "number"}},
            },
        },
        "labeled": {"type": "integer", "description": "predictions with feedback"},
        "auc": {"type": "number"},
        "ks": {"type": "number"},
        "logloss": {"type": "number"},
    },
}


def _monitoring(name: dict[str, Any]) -> dict[str, Any]:
    window = {
        "name": "window",
        "in": "query",
        "description": "the window length: 15m, 1h, 1d ... (default 1h)",
        "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,3}[mhd]$"},
    }
    since = {
        "name": "since",
        "in": "query",
        "description": "ISO 8601 time of the first window (default: the last 24 windows)",
        "schema": {"type": "string", "format": "date-time"},
    }
    body = {
        "type": "object",
        "required": ["model", "windows", "alerts"],
        "properties": {
            "model": {"type": "string"},
            "windows": {"type": "array", "items": _WINDOW},
            "alerts": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        "get": {
            "summary": "A model's monitoring windows per version (traffic, errors, latency, "
            "drift, live accuracy) and its alerts",
            "parameters": [name, window, since],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": body}}},
                "400": _err("A window or since that cannot be read"),
                **_AUTH,
                "404": _err("Unknown model"),
            },
        }
    }


def _generic(name: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "/v1/models/{name}/monitoring": _monitoring(name),
        "/v1/models/{name}:predict": _predict(
            "Score with the production (or canary) version", [name, _EXPLAIN], {"type": "object"}
        ),
        "/v1/models/{name}/versions/{version}:predict": _predict(
            "Score with one version", [name, _VERSION, _EXPLAIN], {"type": "object"}
        ),
        "/v1/models/{name}:explain": _predict(
            "Score with reasons (KServe v1 explain)", [name], {"type": "object"}
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
        **_standard_health(),
        "/v2/models/{name}": _v2_get("Open Inference Protocol v2 model metadata", [_NAME]),
        "/v2/models/{name}/ready": _v2_get("Open Inference Protocol v2 model readiness", [_NAME]),
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


def openapi(models: dict[str, Any], mlflow_model: str | None = None) -> dict[str, Any]:
    """The description for the deployed models: name -> its production LoadedModel."""
    paths = _generic(_NAME)
    if models:  # each deployed model's own routes say exactly what it accepts
        for generic in (
            "{name}:predict",
            "{name}/versions/{version}:predict",
            "{name}:explain",
            "{name}:feedback",
        ):
            del paths[f"/v1/models/{generic}"]
    schemas: dict[str, Any] = {"Warning": _WARNING}
    if models:
        del paths["/v2/models/{name}"], paths["/v2/models/{name}/ready"]
    for name, model in sorted(models.items()):
        paths.update(_model_paths(name, model.label_values()))
        paths[f"/v2/models/{name}"] = _v2_get(f"Open Inference Protocol v2 metadata of {name}", [])
        paths[f"/v2/models/{name}/ready"] = _v2_get(f"Is {name} ready (v2)", [])
        schemas[schema_key(name)] = instance_schema(model)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Seer scoring service",
            "version": "1",
            "description": _PROTOCOLS,
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
