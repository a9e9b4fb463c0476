"""The scoring service's OpenAPI description (served at /openapi.json)."""

from __future__ import annotations

MAX_BATCH = 1000

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
