"""The export tasks: `plan_export` (one per job) fans out `export_project` (one per project).

A job is a set of units: the account part (licences, projects, licence members), done by
the planning task after it has fanned out, and one unit per project. Whichever task
finishes the last unit writes manifest.json and marks the job succeeded. A unit that
fails for good fails the whole job with a reason naming it; the other units notice at
their next page and stop.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from revizto.errors import (
    ConfigurationError,
    InvalidResponse,
    NoApiAccess,
    NotFound,
    ReviztoError,
    TokenRejected,
    TransientError,
    WrongRegion,
)
from worker.account_export import export_account
from worker.celery_app import app, settings
from worker.context import WorkerContext, context
from worker.guard import JobGuard, JobStopped
from worker.jobs import ACCOUNT_UNIT, JobState, UnitState, project_unit
from worker.manifest import build_manifest, write_manifest
from worker.metrics import EXPORT_JOBS
from worker.outputs import job_dir
from worker.plan import PlanError, ProjectRef, build_plan
from worker.project_export import ProjectExporter
from worker.request import ExportRequest
from worker.token_client import ReauthRequired
from worker.unit_output import UnitOutput

log = logging.getLogger(__name__)

# Celery-level retries, after the client's own three attempts per request have failed.
MAX_RETRIES = 3
RETRY_BASE_SECONDS = float(os.environ.get("EXPORT_RETRY_BASE_SECONDS", "10"))
# A unit whose task keeps killing its worker process must not loop forever.
MAX_DELIVERIES = 5
RETRYABLE = (TransientError, redis.ConnectionError, redis.TimeoutError)


@app.task(bind=True, name="worker.tasks.plan_export", max_retries=MAX_RETRIES)
def plan_export(self: Task, job_id: str) -> None:
    ctx = context(settings)

    def plan_and_export_account() -> None:
        state = ctx.jobs.state(job_id)
        if state is None or state.finished:
            if state == JobState.CANCELLED and ctx.jobs.claim_outcome(job_id):
                EXPORT_JOBS.labels(outcome="cancelled").inc()  # cancelled while queued
            return
        ctx.jobs.start(job_id)
        guard = JobGuard(ctx.jobs, job_id)
        guard.check(force=True)
        request = ExportRequest.model_validate(ctx.jobs.request(job_id))
        client = ctx.client()
        plan = build_plan(client, request)
        if ctx.jobs.plan(job_id, [p.to_json() for p in plan.projects], plan.skipped):
            log.info(
                "export planned job=%s projects=%d skipped=%d",
                job_id,
                len(plan.projects),
                len(plan.skipped),
            )
        dispatch_pending_projects(ctx, job_id)
        ctx.jobs.unit_running(job_id, ACCOUNT_UNIT)
        output = UnitOutput(
            ctx.jobs,
            job_id,
            ACCOUNT_UNIT,
            job_dir(settings.export_dir, job_id),
            request.format,
            _temp_suffix(self),
        )
        export_account(client, request, plan, output)
        complete_unit(ctx, job_id, ACCOUNT_UNIT)

    run_unit(self, ctx, job_id, ACCOUNT_UNIT, "the account part", plan_and_export_account)


@app.task(bind=True, name="worker.tasks.export_project", max_retries=MAX_RETRIES)
def export_project(self: Task, job_id: str, project: dict[str, Any]) -> None:
    ctx = context(settings)
    ref = ProjectRef.from_json(project)
    unit = project_unit(ref.uuid)

    def export() -> None:
        guard = JobGuard(ctx.jobs, job_id)
        guard.check(force=True)
        if ctx.jobs.units(job_id).get(unit) == UnitState.DONE:
            complete_unit(ctx, job_id, unit)  # a redelivery after the work was done
            return
        ctx.jobs.unit_running(job_id, unit)
        request = ExportRequest.model_validate(ctx.jobs.request(job_id))
        output = UnitOutput(
            ctx.jobs,
            job_id,
            unit,
            job_dir(settings.export_dir, job_id),
            request.format,
            _temp_suffix(self),
            project_uuid=ref.uuid,
        )
        started = time.monotonic()
        exporter = ProjectExporter(
            ctx.client(),
            request,
            ref,
            output,
            guard,
            comment_concurrency=settings.comment_concurrency,
        )
        exporter.run()
        if exporter.watermark:
            ctx.jobs.set_watermark(job_id, ref.uuid, exporter.watermark)
        log.info(
            "project exported job=%s project=%s seconds=%.1f",
            job_id,
            ref.uuid,
            time.monotonic() - started,
        )
        complete_unit(ctx, job_id, unit)

    run_unit(self, ctx, job_id, unit, f"project {ref.title!r} ({ref.uuid})", export)


def dispatch_pending_projects(ctx: WorkerContext, job_id: str) -> None:
    """Send a task for every project unit not sent yet (a redelivered plan sends the rest)."""
    units = ctx.jobs.units(job_id)
    for project in ctx.jobs.planned_projects(job_id):
        unit = project_unit(project["uuid"])
        if units.get(unit) == UnitState.PENDING:
            export_project.apply_async(args=[job_id, project])
            ctx.jobs.unit_dispatched(job_id, unit)


def complete_unit(ctx: WorkerContext, job_id: str, unit: str) -> None:
    if ctx.jobs.unit_done(job_id, unit) <= 0:
        finalize(ctx, job_id)


def finalize(ctx: WorkerContext, job_id: str) -> None:
    """Write manifest.json, then mark the job succeeded; undo the manifest if the job was
    cancelled or failed in between (only a succeeded job has one)."""
    job = ctx.jobs.get(job_id)
    if job["state"] != JobState.RUNNING.value:
        return
    finished_at = time.time()
    manifest = build_manifest(job, ctx.jobs.watermarks(job_id), finished_at)
    path = write_manifest(job_dir(settings.export_dir, job_id), manifest)
    if ctx.jobs.transition(
        job_id, [JobState.RUNNING], JobState.SUCCEEDED, finished_at=repr(finished_at)
    ):
        EXPORT_JOBS.labels(outcome="succeeded").inc()
        log.info(
            "export succeeded job=%s files=%d records=%s seconds=%.1f",
            job_id,
            len(manifest["files"]),
            manifest["records"],
            finished_at - (job["started_at"] or finished_at),
        )
    elif ctx.jobs.state(job_id) != JobState.SUCCEEDED:
        # Cancelled or failed meanwhile; a concurrent finaliser that won keeps its manifest.
        path.unlink(missing_ok=True)


def fail_job(ctx: WorkerContext, job_id: str, unit: str, code: str, message: str) -> None:
    ctx.jobs.unit_failed(job_id, unit)
    error = {"code": code, "message": message}
    if ctx.jobs.transition(
        job_id,
        [JobState.QUEUED, JobState.RUNNING],
        JobState.FAILED,
        finished_at=repr(time.time()),
        error=error,
    ):
        EXPORT_JOBS.labels(outcome="failed").inc()
        log.error("export failed job=%s code=%s message=%s", job_id, code, message)


def error_code(error: ReviztoError) -> str:
    """A stable, documented code for a Revizto failure that retrying will not fix."""
    if isinstance(error, NoApiAccess):
        return "no_api_access"
    if isinstance(error, WrongRegion):
        return "wrong_region"
    if isinstance(error, ConfigurationError):
        return "access_denied"
    if isinstance(error, TokenRejected):
        return "token_rejected"
    if isinstance(error, NotFound):
        return "not_found"
    if isinstance(error, InvalidResponse):
        return "invalid_response"
    return "revizto_error"


def run_unit(
    task: Task, ctx: WorkerContext, job_id: str, unit: str, label: str, work: Callable[[], None]
) -> None:
    """Run a unit's work and turn whatever stops it into the right outcome: retry, fail
    the job (naming the unit), or stop quietly because the job was cancelled."""
    deliveries = ctx.jobs.unit_delivery(job_id, unit)
    if deliveries > MAX_DELIVERIES + MAX_RETRIES:
        fail_job(
            ctx,
            job_id,
            unit,
            "worker_lost",
            f"{label} was delivered {deliveries} times without finishing",
        )
        return
    try:
        work()
    except JobStopped as stopped:
        log.info("unit stopped job=%s unit=%s state=%s", job_id, unit, stopped.state)
        if stopped.state == JobState.CANCELLED and ctx.jobs.claim_outcome(job_id):
            EXPORT_JOBS.labels(outcome="cancelled").inc()
    except ReauthRequired as exc:
        # No retry loop: nothing will work until a human re-authenticates.
        fail_job(
            ctx,
            job_id,
            unit,
            "reauth_required",
            f"Revizto credentials need re-authentication ({exc.reason}); "
            "run `python -m token_service auth --access-code CODE`",
        )
    except PlanError as exc:
        fail_job(ctx, job_id, unit, exc.code, exc.message)
    except RETRYABLE as exc:
        attempt = task.request.retries + 1
        if task.request.retries < MAX_RETRIES:
            countdown = RETRY_BASE_SECONDS * 3**task.request.retries
            log.warning(
                "unit will be retried job=%s unit=%s attempt=%d countdown_s=%.0f error=%s",
                job_id,
                unit,
                attempt,
                countdown,
                exc,
            )
            raise task.retry(exc=exc, countdown=countdown) from None
        fail_job(
            ctx,
            job_id,
            unit,
            "retries_exhausted",
            f"{label} failed after {attempt} attempts: {exc}",
        )
    except ReviztoError as exc:
        fail_job(ctx, job_id, unit, error_code(exc), f"{label}: {exc}")
    except SoftTimeLimitExceeded:
        fail_job(ctx, job_id, unit, "time_limit", f"{label} exceeded the task time limit")
    except Exception as exc:
        log.exception("unit crashed job=%s unit=%s", job_id, unit)
        fail_job(ctx, job_id, unit, "internal_error", f"{label}: {type(exc).__name__}: {exc}")


def _temp_suffix(task: Task) -> str:
    # Unique per delivery, so two deliveries of one task never write the same temp file.
    return f"{task.request.id or 'local'}-{os.getpid()}"
