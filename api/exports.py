"""/v1/exports: submit, inspect, list, cancel, retry and delete export jobs, and download
their files."""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.wrappers import Response as BaseResponse

from api import downloads
from api.auth import caller, protect
from api.idempotency import MAX_KEY_LENGTH, IdempotencyConflict, IdempotencyStore
from api.models import JobList, dump
from api.settings import ApiSettings
from jobs.dispatch import Dispatcher
from jobs.layout import JOB_ID, MANIFEST_NAME
from jobs.model import Job
from jobs.request import ExportRequest
from jobs.states import JobState
from jobs.storage import ExportStorage
from jobs.store import JobNotFound, JobStore
from jobs.view import job_summary, job_view
from service_common.problems import problem
from service_common.validation import InvalidBody, parse_body

log = logging.getLogger(__name__)

bp = protect(Blueprint("exports", __name__, url_prefix="/v1"))

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _jobs() -> JobStore:
    jobs: JobStore = current_app.extensions["jobs"]
    return jobs


def _dispatcher() -> Dispatcher:
    dispatcher: Dispatcher = current_app.extensions["dispatcher"]
    return dispatcher


def _storage() -> ExportStorage:
    storage: ExportStorage = current_app.extensions["storage"]
    return storage


def _job_or_404(job_id: str) -> Job | Response:
    """The job, if it exists and the caller may see it: its own, or any for an admin key.
    Another key's job is a 404 like a missing one, so ids reveal nothing."""
    if not JOB_ID.fullmatch(job_id):
        return _not_found(job_id)
    try:
        job = _jobs().get(job_id)
    except JobNotFound:
        return _not_found(job_id)
    key = caller()
    if not key.admin and job.owner != key.name:
        return _not_found(job_id)
    return job


def _not_found(job_id: str) -> Response:
    return problem(
        404, "Export not found", problem_type="export-not-found", detail=f"no export job {job_id!r}"
    )


def _check_notify_url(body: ExportRequest) -> None:
    if body.notify_url is None:
        return
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    if not settings.webhooks_enabled:
        message = "webhooks are not configured on this server (EXPORT_WEBHOOK_SECRET)"
    elif not settings.webhook_policy.allows(body.notify_url):
        message = "host not allowed: it must be listed in the server's EXPORT_WEBHOOK_ALLOWED_HOSTS"
    else:
        return
    raise InvalidBody(
        422,
        f"invalid field(s): notify_url ({message})",
        [{"field": "notify_url", "message": message}],
    )


def _check_database(body: ExportRequest) -> None:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    if body.database is None or body.database in settings.databases:
        return
    known = ", ".join(sorted(settings.databases)) or "none"
    message = f"no database {body.database!r} on this server (EXPORT_DATABASES has: {known})"
    raise InvalidBody(
        422,
        f"invalid field(s): destination.name ({message})",
        [{"field": "destination.name", "message": message}],
    )


@bp.post("/exports")
def submit() -> Response:
    body = parse_body(request, ExportRequest, allow_empty=True)
    _check_notify_url(body)
    _check_database(body)
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
    owner = caller().name
    jobs.create(job_id, record, owner=owner)
    if idempotency_key is not None:
        try:
            claim = store.claim(owner, idempotency_key, record, job_id)
            if claim.replayed and not jobs.exists(claim.job_id):
                # The job it stood for was deleted: the key is free for this one.
                store.release(owner, idempotency_key)
                claim = store.claim(owner, idempotency_key, record, job_id)
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
    try:
        _dispatcher().plan(job_id)
    except Exception as exc:
        log.error("export not queued job=%s error=%s", job_id, type(exc).__name__)
        jobs.delete(job_id)
        if idempotency_key is not None:
            store.release(owner, idempotency_key)
        return problem(
            503, "Queue unavailable", problem_type="queue-unavailable", detail="try again shortly"
        )
    log.info("export submitted job=%s by=%s", job_id, owner)
    return _accepted(jobs.get(job_id), replayed=False)


def _accepted(job: Job, *, replayed: bool) -> Response:
    response = jsonify(job_view(job))
    response.status_code = 202
    response.headers["Location"] = f"/v1/exports/{job.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/exports/<job_id:job_id>")
def get_export(job_id: str) -> Response:
    job = _job_or_404(job_id)
    return job if isinstance(job, Response) else jsonify(job_view(job))


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
        not (limit_raw.isascii() and limit_raw.isdigit() and len(limit_raw) <= 3)
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
            owner=None if caller().admin else caller().name,
        )
    except ValueError as exc:
        raise InvalidBody(400, str(exc), [{"field": "page_token", "message": str(exc)}]) from None
    page = JobList.model_validate(
        {"jobs": [job_summary(j) for j in jobs], "next_page_token": next_token}
    )
    return jsonify(dump(page))


@bp.post("/exports/<job_id:job_id>:cancel")
def cancel(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    stopped = _jobs().stop(job_id, JobState.CANCELLED)
    if not stopped.stopped:
        return problem(
            409,
            "Export already finished",
            problem_type="export-finished",
            detail=f"the job is {stopped.state}; only queued or running jobs can be cancelled",
        )
    _publish(job_id)
    return jsonify(job_view(_jobs().get(job_id)))


def _publish(job_id: str) -> None:
    """Have a worker write the stopped job's manifest (the reaper does it if this fails)."""
    try:
        _dispatcher().publish(job_id)
    except Exception as exc:
        log.warning("publish not queued job=%s error=%s", job_id, type(exc).__name__)


@bp.post("/exports/<job_id:job_id>:retry")
def retry(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    units, why = _jobs().retry(job_id)
    if not units:
        if why == "nothing_to_retry":
            detail = "every project of this job succeeded or was skipped: nothing to retry"
        else:
            detail = f"the job is {why}; only a finished job can be retried"
        return problem(409, "Nothing to retry", problem_type="export-not-retryable", detail=detail)
    again = _jobs().get(job_id)
    for unit in units:
        _dispatcher().unit(again, unit)
    log.info("export retried job=%s units=%d by=%s", job_id, len(units), caller().name)
    response = jsonify(job_view(_jobs().get(job_id)))
    response.status_code = 202
    response.headers["Location"] = f"/v1/exports/{job_id}"
    return response


@bp.delete("/exports/<job_id:job_id>")
def delete(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    # A running job is cancelled first, so its workers stop at their next page.
    _jobs().stop(job_id, JobState.CANCELLED)
    _jobs().delete(job_id)
    _storage().delete(job_id)
    log.info("export deleted job=%s by=%s", job_id, caller().name)
    return Response(status=204)


@bp.get("/exports/<job_id:job_id>/files/<name>")
def download(job_id: str, name: str) -> BaseResponse:
    job = _job_or_404(job_id)
    if isinstance(job, Response):
        return job
    listed = {f.name for f in job.files}
    if job.state.finished:
        listed.add(MANIFEST_NAME)
    stored = _storage().stat(job_id, name) if name in listed else None
    if stored is None:
        return problem(
            404,
            "File not found",
            problem_type="file-not-found",
            detail=f"no file {name!r} in this export",
        )
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    return downloads.serve(_storage(), job_id, stored, settings.download_mode)
