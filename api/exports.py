"""/v1/exports: submit, inspect, list and cancel export jobs, and download their files."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file

from api.auth import protect
from api.enqueue import TaskQueue
from api.idempotency import MAX_KEY_LENGTH, IdempotencyConflict, IdempotencyStore
from api.settings import ApiSettings
from service_common.problems import problem
from service_common.validation import InvalidBody, parse_body
from worker.jobs import JobNotFound, JobState, JobStore
from worker.outputs import MANIFEST_NAME, SAFE_NAME, job_dir
from worker.request import ExportRequest

bp = protect(Blueprint("exports", __name__, url_prefix="/v1"))

JOB_ID = re.compile(r"[0-9a-f]{32}")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MEDIA_TYPES = {".ndjson": "application/x-ndjson", ".json": "application/json", ".csv": "text/csv"}


def _jobs() -> JobStore:
    jobs: JobStore = current_app.extensions["jobs"]
    return jobs


def _job_or_404(job_id: str) -> dict[str, Any] | Response:
    if not JOB_ID.fullmatch(job_id):
        return _not_found(job_id)
    try:
        return _jobs().get(job_id)
    except JobNotFound:
        return _not_found(job_id)


def _not_found(job_id: str) -> Response:
    return problem(
        404, "Export not found", problem_type="export-not-found", detail=f"no export job {job_id!r}"
    )


@bp.post("/exports")
def submit() -> Response:
    body = parse_body(request, ExportRequest, allow_empty=True)
    record = body.as_record()
    jobs = _jobs()
    job_id = uuid.uuid4().hex
    idempotency_key = request.headers.get("Idempotency-Key")
    store: IdempotencyStore = current_app.extensions["idempotency"]
    if idempotency_key is not None and (
        not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH
    ):
        raise InvalidBody(
            400,
            "Idempotency-Key must be 1 to 255 characters",
            [{"field": "Idempotency-Key", "message": "invalid length"}],
        )
    # The job exists before a key can point at it, so a racing replay never finds nothing.
    jobs.create(job_id, record)
    if idempotency_key is not None:
        try:
            claim = store.claim(g.api_key, idempotency_key, record, job_id)
        except IdempotencyConflict:
            jobs.delete(job_id)
            return problem(
                422,
                "Idempotency-Key reused with a different request",
                problem_type="idempotency-key-reused",
                detail="this Idempotency-Key was used with another body in the last 24 hours",
                errors=[
                    {"field": "Idempotency-Key", "message": "already used with a different body"}
                ],
            )
        if claim.replayed:
            jobs.delete(job_id)
            existing = _job_or_404(claim.job_id)
            return (
                existing if isinstance(existing, Response) else _accepted(existing, replayed=True)
            )
    queue: TaskQueue = current_app.extensions["task_queue"]
    try:
        queue.submit(job_id)
    except Exception as exc:
        jobs.transition(
            job_id,
            [JobState.QUEUED],
            JobState.FAILED,
            error={
                "code": "enqueue_failed",
                "message": f"could not queue the job: {type(exc).__name__}",
            },
        )
        if idempotency_key is not None:
            store.release(g.api_key, idempotency_key)
        return problem(
            503, "Queue unavailable", problem_type="queue-unavailable", detail="try again shortly"
        )
    return _accepted(jobs.get(job_id), replayed=False)


def _accepted(job: dict[str, Any], *, replayed: bool) -> Response:
    response = jsonify(job)
    response.status_code = 202
    response.headers["Location"] = f"/v1/exports/{job['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/exports/<job_id>")
def get_export(job_id: str) -> Response:
    job = _job_or_404(job_id)
    return job if isinstance(job, Response) else jsonify(job)


@bp.get("/exports")
def list_exports() -> Response:
    errors = []
    state = request.args.get("state")
    if state is not None and state not in {s.value for s in JobState}:
        errors.append(
            {"field": "state", "message": f"must be one of {', '.join(s.value for s in JobState)}"}
        )
    limit_raw = request.args.get("limit", str(DEFAULT_PAGE_SIZE))
    if (
        not (limit_raw.isascii() and limit_raw.isdigit())
        or not 1 <= int(limit_raw) <= MAX_PAGE_SIZE
    ):
        errors.append(
            {"field": "limit", "message": f"must be an integer from 1 to {MAX_PAGE_SIZE}"}
        )
    if errors:
        raise InvalidBody(400, "invalid query parameter(s)", errors)
    try:
        jobs, next_token = _jobs().list_jobs(
            state=JobState(state) if state else None,
            limit=int(limit_raw),
            page_token=request.args.get("page_token"),
        )
    except ValueError as exc:
        raise InvalidBody(400, str(exc), [{"field": "page_token", "message": str(exc)}]) from None
    return jsonify({"jobs": jobs, "next_page_token": next_token})


@bp.post("/exports/<job_id>:cancel")
def cancel(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    if not _jobs().transition(
        job_id,
        [JobState.QUEUED, JobState.RUNNING],
        JobState.CANCELLED,
        finished_at=repr(time.time()),
    ):
        return problem(
            409,
            "Export already finished",
            problem_type="export-finished",
            detail=f"the job is {_jobs().state(job_id)}; only queued or running jobs can be cancelled",  # noqa: E501
        )
    return jsonify(_jobs().get(job_id))


@bp.get("/exports/<job_id>/files/<name>")
def download(job_id: str, name: str) -> Response:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    listed = {f["name"] for f in job["files"]}
    if job["state"] == JobState.SUCCEEDED.value:
        listed.add(MANIFEST_NAME)
    # Only names this service writes, and only files the job lists: nothing else is reachable.
    if name not in listed or not (SAFE_NAME.fullmatch(name) or name == MANIFEST_NAME):
        return problem(
            404,
            "File not found",
            problem_type="file-not-found",
            detail=f"no file {name!r} in this export",
        )
    directory = job_dir(settings.export_dir, job_id).resolve()
    path = (directory / name).resolve()
    if path.parent != directory or not path.is_file():
        return problem(
            404,
            "File not found",
            problem_type="file-not-found",
            detail=f"no file {name!r} in this export",
        )
    return send_file(
        path,
        mimetype=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        as_attachment=True,
        download_name=name,
        conditional=True,
        etag=True,
    )
