"""GET /openapi.json: the job API described for callers (a test checks it against the routes)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic.json_schema import models_json_schema

from jobs.request import ExportRequest
from jobs.states import JobState
from jobs.view import JobSummary, JobView
from revizto.version import __version__

bp = Blueprint("openapi", __name__)

PROBLEM = {"$ref": "#/components/responses/Problem"}
JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
SECURED: list[dict[str, list[str]]] = [{"apiKey": []}]


def _job_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobView"}}},
    }


def _model_schemas() -> dict[str, Any]:
    """The request and job shapes, from the pydantic models that validate and build them."""
    _, schema = models_json_schema(
        [(ExportRequest, "validation"), (JobView, "serialization"), (JobSummary, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = schema["$defs"]
    return schemas


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Revizto Data Exporter job API",
            "version": __version__,
            "description": "Submit export jobs for Revizto data and download their files.",
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "one of EXPORTER_API_KEYS",
                }
            },
            "schemas": {
                **_model_schemas(),
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        },
        "paths": {
            "/v1/exports": {
                "post": {
                    "summary": "Submit an export job",
                    "security": SECURED,
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ExportRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": _job_response("the job, queued"),
                        "400": PROBLEM,
                        "401": PROBLEM,
                        "422": PROBLEM,
                        "503": PROBLEM,
                    },
                },
                "get": {
                    "summary": "List export jobs, newest first",
                    "security": SECURED,
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in JobState]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 100,
                                "default": 20,
                            },
                        },
                        {"name": "page_token", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "`{jobs, next_page_token}`"},
                        "400": PROBLEM,
                        "401": PROBLEM,
                    },
                },
            },
            "/v1/exports/{job_id}": {
                "get": {
                    "summary": "One export job with its progress and files",
                    "security": SECURED,
                    "parameters": [JOB_ID],
                    "responses": {"200": _job_response("the job"), "401": PROBLEM, "404": PROBLEM},
                },
                "delete": {
                    "summary": "Remove a job and its files (a running job is cancelled first)",
                    "security": SECURED,
                    "parameters": [JOB_ID],
                    "responses": {
                        "204": {"description": "removed"},
                        "401": PROBLEM,
                        "404": PROBLEM,
                    },
                },
            },
            "/v1/exports/{job_id}:retry": {
                "post": {
                    "summary": "Run a finished job's failed and cancelled projects again",
                    "security": SECURED,
                    "parameters": [JOB_ID],
                    "responses": {
                        "202": _job_response("the job, running again"),
                        "401": PROBLEM,
                        "404": PROBLEM,
                        "409": PROBLEM,
                    },
                }
            },
            "/v1/exports/{job_id}:cancel": {
                "post": {
                    "summary": "Cancel a queued or running job (workers stop between pages)",
                    "security": SECURED,
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": _job_response("the cancelled job"),
                        "401": PROBLEM,
                        "404": PROBLEM,
                        "409": PROBLEM,
                    },
                }
            },
            "/v1/exports/{job_id}/files/{name}": {
                "get": {
                    "summary": "Download one file of an export (streamed)",
                    "security": SECURED,
                    "parameters": [
                        JOB_ID,
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {"description": "the file"},
                        "401": PROBLEM,
                        "404": PROBLEM,
                    },
                }
            },
            "/v1/projects": {
                "get": {
                    "summary": "Licences and their projects (cached briefly)",
                    "security": SECURED,
                    "responses": {
                        "200": {
                            "description": "`{licenses: [{uuid, name, exportable, reason, projects}]}`"  # noqa: E501
                        },
                        "401": PROBLEM,
                        "503": PROBLEM,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness (Redis reachable)",
                    "responses": {"200": {"description": "ready"}, "503": PROBLEM},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition format"}},
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())
