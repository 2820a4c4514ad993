"""GET /openapi.json: the job API described from the same pydantic models that validate its
requests and build its answers (jobs/request.py, jobs/view.py, api/models.py), and from
one table of operations below. A test checks the table against the real routes, and
schemathesis checks the live API against the document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.idempotency import MAX_KEY_LENGTH
from api.models import CredentialView, Health, JobList, Problem, ProjectsView
from jobs.layout import JOB_ID, SAFE_NAME
from jobs.request import ExportRequest
from jobs.states import JobState
from jobs.view import JobSummary, JobView
from revizto.version import __version__
from service_common.problems import PROBLEM_CONTENT_TYPE

bp = Blueprint("openapi", __name__)

JSON = "application/json"
MODELS: list[type[BaseModel]] = [
    ExportRequest,
    JobView,
    JobSummary,
    JobList,
    ProjectsView,
    CredentialView,
    Problem,
    Health,
]


@dataclass(frozen=True)
class Answer:
    description: str
    model: type[BaseModel] | None = None
    media_types: tuple[str, ...] = (JSON,)
    headers: dict[str, str] = field(default_factory=dict)  # name -> description
    # OpenAPI links: operations that take this answer's `id` as their `job_id`;
    # schemathesis follows them to reach real jobs.
    job_links: tuple[str, ...] = ()


def problem(description: str) -> Answer:
    return Answer(description, Problem, (PROBLEM_CONTENT_TYPE,))


UNAUTHORIZED = problem("no or unknown API key")
STORE_DOWN = problem("Redis (the job store) is unreachable; retry shortly")
NOT_FOUND = problem("no such job, or not one of this API key's")
REVIZTO_DOWN = problem("Revizto or the token service did not answer; retry shortly")


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    operation_id: str
    summary: str
    answers: dict[int, Answer]
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: type[BaseModel] | None = None
    secured: bool = True


JOB_ID_PARAM = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{JOB_ID.pattern}$"},
}
FILE_NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^({SAFE_NAME.pattern}|manifest\\.json)$"},
}
JOB_OPERATIONS = ("getExport", "cancelExport", "retryExport", "deleteExport")
FILE_TYPES = ("application/x-ndjson", JSON, "text/csv", "application/octet-stream")

OPERATIONS = [
    Operation(
        "/v1/exports",
        "post",
        "createExport",
        "Submit an export job",
        {
            202: Answer(
                "the job, queued",
                JobView,
                headers={"Location": "the job's URL"},
                job_links=JOB_OPERATIONS,
            ),
            400: problem("not JSON, or an Idempotency-Key of the wrong length"),
            401: UNAUTHORIZED,
            413: problem("a body over 64 KiB"),
            415: problem("a body that is not application/json"),
            422: problem(
                "a field is invalid (named in `errors`); a notify_url host not "
                "allowed; an Idempotency-Key reused with another body"
            ),
            503: problem("the job store or the queue is unreachable"),
        },
        parameters=[
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": "\\S",
                },
            }
        ],
        body=ExportRequest,
    ),
    Operation(
        "/v1/exports",
        "get",
        "listExports",
        "List the caller's export jobs (every job for an admin key), newest first",
        {
            200: Answer("a page of jobs", JobList),
            400: problem("a query parameter is invalid"),
            401: UNAUTHORIZED,
            503: STORE_DOWN,
        },
        parameters=[
            {
                "name": "state",
                "in": "query",
                "schema": {"type": "string", "enum": [s.value for s in JobState]},
            },
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {"name": "page_token", "in": "query", "schema": {"type": "string"}},
        ],
    ),
    Operation(
        "/v1/exports/{job_id}",
        "get",
        "getExport",
        "One export job: its state, each project's, its files",
        {200: Answer("the job", JobView), 401: UNAUTHORIZED, 404: NOT_FOUND, 503: STORE_DOWN},
        parameters=[JOB_ID_PARAM],
    ),
    Operation(
        "/v1/exports/{job_id}",
        "delete",
        "deleteExport",
        "Remove a job and its files (a running job is cancelled first)",
        {204: Answer("removed", None, ()), 401: UNAUTHORIZED, 404: NOT_FOUND, 503: STORE_DOWN},
        parameters=[JOB_ID_PARAM],
    ),
    Operation(
        "/v1/exports/{job_id}:cancel",
        "post",
        "cancelExport",
        "Cancel a queued or running job (workers stop at their next page)",
        {
            200: Answer("the cancelled job", JobView),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: problem("the job has already finished"),
            503: STORE_DOWN,
        },
        parameters=[JOB_ID_PARAM],
    ),
    Operation(
        "/v1/exports/{job_id}:retry",
        "post",
        "retryExport",
        "Run a finished job's failed and cancelled projects again, in the same job",
        {
            202: Answer("the job, running again", JobView, headers={"Location": "the job's URL"}),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: problem("the job is not finished, or nothing failed"),
            503: STORE_DOWN,
        },
        parameters=[JOB_ID_PARAM],
    ),
    Operation(
        "/v1/exports/{job_id}/files/{name}",
        "get",
        "downloadExportFile",
        "Download one file of a job (ranges and conditional requests supported), or be "
        "redirected to it in object storage",
        {
            200: Answer("the file", None, FILE_TYPES),
            302: Answer(
                "the file is in object storage (EXPORT_DOWNLOAD_MODE=redirect): fetch it from "
                "Location, a presigned URL valid for a few minutes, without this API's key",
                None,
                (),
                headers={"Location": "the presigned URL of the file"},
            ),
            206: Answer(
                "the requested range", None, FILE_TYPES, headers={"Content-Range": "the range sent"}
            ),
            304: Answer("not modified since the ETag or date given", None, ()),
            401: UNAUTHORIZED,
            404: problem("no such job or file (the manifest only once the job finished)"),
            416: Answer(
                "the range is outside the file",
                None,
                (),
                headers={"Content-Range": "bytes */<size>"},
            ),
            503: problem("Redis (the job store) or the export files' storage is unreachable"),
        },
        parameters=[JOB_ID_PARAM, FILE_NAME_PARAM],
    ),
    Operation(
        "/v1/projects",
        "get",
        "listProjects",
        "Licences and their projects, with why any cannot be exported (cached briefly)",
        {
            200: Answer("the catalogue", ProjectsView),
            401: UNAUTHORIZED,
            502: problem("Revizto answered with an error"),
            503: problem(
                "Revizto or the token service is unavailable, or re-authentication is required"
            ),
        },
    ),
    Operation(
        "/v1/credential",
        "get",
        "getCredential",
        "The Revizto credential: expiry, age, whether re-authentication is required",
        {
            200: Answer("the credential's state (never a token)", CredentialView),
            401: UNAUTHORIZED,
            502: problem("the token service refused the API"),
            503: problem("the token service is unavailable"),
        },
    ),
    Operation(
        "/openapi.json",
        "get",
        "getOpenapi",
        "This document",
        {200: Answer("OpenAPI 3.1")},
        secured=False,
    ),
    Operation(
        "/healthz", "get", "getLiveness", "Liveness", {200: Answer("alive", Health)}, secured=False
    ),
    Operation(
        "/readyz",
        "get",
        "getReadiness",
        "Readiness: Redis reachable",
        {200: Answer("ready", Health), 503: problem("not ready")},
        secured=False,
    ),
    Operation(
        "/metrics",
        "get",
        "getMetrics",
        "Prometheus metrics",
        {200: Answer("text exposition format", None, ("text/plain",))},
        secured=False,
    ),
]


def _schemas() -> dict[str, Any]:
    _, schema = models_json_schema(
        [
            (model, "serialization" if model is not ExportRequest else "validation")
            for model in MODELS
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = schema["$defs"]
    return schemas


def _body_schema(model: type[BaseModel] | None, media_type: str) -> dict[str, Any]:
    if model is not None:
        return {"$ref": f"#/components/schemas/{model.__name__}"}
    if media_type == JSON:  # this document, a manifest, or a JSON export file (an array)
        return {"type": ["object", "array"]}
    return {"type": "string", "format": "binary"}


def _answer(answer: Answer) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.media_types:
        described["content"] = {
            media: {"schema": _body_schema(answer.model, media)} for media in answer.media_types
        }
    if answer.headers:
        described["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    if answer.job_links:
        described["links"] = {
            operation_id: {
                "operationId": operation_id,
                "parameters": {"job_id": "$response.body#/id"},
            }
            for operation_id in answer.job_links
        }
    return described


def spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "responses": {str(code): _answer(a) for code, a in sorted(op.answers.items())},
        }
        if op.parameters:
            operation["parameters"] = op.parameters
        if op.secured:
            operation["security"] = [{"apiKey": []}]
        if op.body is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
            }
        paths.setdefault(op.path, {})[op.method] = operation
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
            "schemas": _schemas(),
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())
