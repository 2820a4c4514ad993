"""The export tasks. A job is a set of units: the account part, run by `plan_export`
(which also plans the job and fans out one `export_project` per project), and one unit
per project. Whichever task finishes the last unit gives the job its outcome and
publishes it (`publish_job`: manifest.json, webhook, metrics).

A unit's task first claims the unit (a compare-and-set in Redis), so a redelivered or
duplicated task never runs a unit twice at once; a unit whose worker died is found by
the reaper (worker/reaper.py) and sent again. Revizto failures are retried inside the
unit for EXPORT_PROJECT_RETRY_WINDOW_SECONDS; then the unit fails and the job goes on
with the other projects. A project Revizto refuses for lack of rights is skipped at once
(`access_denied`), neither failed nor retried. What stops the whole job is in
worker/outcomes.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Task

from jobs.eligibility import ACCESS_DENIED
from jobs.model import (
    ACCOUNT_UNIT,
    FULL_EXPORT,
    FileEntry,
    JobError,
    ProjectRef,
    Unit,
    project_unit,
)
from jobs.request import ExportRequest
from jobs.states import JobState, UnitState
from jobs.store import Write
from revizto.errors import AccessDenied
from worker.account_export import export_account
from worker.celery_app import app, dispatcher, settings
from worker.context import WorkerContext, context
from worker.database_load import load_unit
from worker.metrics import WEBHOOK_DELIVERIES
from worker.outcomes import classify
from worker.plan import build_plan
from worker.project_export import IssueCheckpoint, ProjectExporter
from worker.publish import publish
from worker.retention import STALE_UPLOAD_MARGIN_SECONDS
from worker.retention import apply_retention as remove_expired
from worker.unit_output import UnitOutput
from worker.unit_run import UnitRun, UnitSkipped, UnitStopped
from worker.webhooks import deliver

log = logging.getLogger(__name__)

# A unit whose worker keeps dying (a crash loop, or a project too big for the memory
# limit) is failed after this many restarts rather than redone forever.
MAX_REQUEUES = 5


def _ctx() -> WorkerContext:
    return context(settings, dispatcher)


@app.task(bind=True, name="worker.tasks.plan_export")
def plan_export(self: Task, job_id: str) -> None:
    ctx = _ctx()

    def plan_and_export_account(run: UnitRun) -> None:
        request = ExportRequest.model_validate(ctx.jobs.request(job_id))
        client = ctx.client_for(run)
        plan = build_plan(client, request)
        active = ctx.jobs.plan(job_id, plan.projects, plan.skipped)
        if active >= 0:
            log.info(
                "export planned job=%s projects=%d skipped=%d",
                job_id,
                active,
                len(plan.skipped),
            )
        dispatch_pending_projects(ctx, job_id)
        output = UnitOutput(
            run,
            ctx.storage,
            request.format,
            committed=ctx.jobs.get(job_id).files,
        )
        export_account(client, request, plan, output)
        if request.database is not None:
            load_unit(ctx, run, request.database, unit_files(ctx, job_id, ACCOUNT_UNIT))

    run_unit(ctx, job_id, ACCOUNT_UNIT, "the account part", plan_and_export_account)


@app.task(bind=True, name="worker.tasks.export_project")
def export_project(self: Task, job_id: str, project: dict[str, Any]) -> None:
    ctx = _ctx()
    ref = ProjectRef.from_json(project)
    unit = project_unit(ref.uuid)

    def export(run: UnitRun) -> None:
        job = ctx.jobs.get(job_id)
        request = ExportRequest.model_validate(job.request)
        output = UnitOutput(
            run,
            ctx.storage,
            request.format,
            committed=job.files,
            project_uuid=ref.uuid,
        )
        started = time.monotonic()
        unit_state = job.unit(unit)
        since = decided_since(ctx, request, job.owner, unit_state, ref)
        exporter = ProjectExporter(
            ctx.client_for(run),
            request,
            ref,
            output,
            run,
            since=None if since == FULL_EXPORT else since,
            comment_concurrency=settings.comment_concurrency,
            checkpoint=IssueCheckpoint.from_text(ctx.jobs.checkpoint(job_id, unit)),
        )
        if unit_state is None or unit_state.since is None:
            run.write([Write.unit("since", since)])
        try:
            exporter.run()
        except AccessDenied as refused:
            # Not enough rights on this project: no retry or refresh can change that, and
            # it says nothing about the other projects (jobs/eligibility.py).
            raise UnitSkipped(ACCESS_DENIED, str(refused)) from refused
        if request.database is not None:
            load_unit(ctx, run, request.database, unit_files(ctx, job_id, unit))
        log.info(
            "project exported job=%s project=%s since=%s seconds=%.1f",
            job_id,
            ref.uuid,
            since,
            time.monotonic() - started,
        )

    run_unit(ctx, job_id, unit, f"project {ref.title!r} ({ref.uuid})", export)


def unit_files(ctx: WorkerContext, job_id: str, unit: str) -> list[FileEntry]:
    """The files `unit` has committed (all of them, also those of an earlier attempt)."""
    return [entry for entry in ctx.jobs.get(job_id).files if entry.unit == unit]


def decided_since(
    ctx: WorkerContext, request: ExportRequest, owner: str, unit: Unit | None, ref: ProjectRef
) -> str:
    """What this project's issues are read since: FULL_EXPORT or a Revizto watermark.

    Decided once per unit and kept for its resumes and retries, so that every part of one
    project's export covers the same span. An explicit `updated_since` wins; then, in
    incremental mode, the watermark of the project's last successful export to the same
    destination; a project without one is exported in full.
    """
    if unit is not None and unit.since is not None:
        return unit.since
    if request.updated_since is not None:
        return request.watermark() or FULL_EXPORT
    if request.mode == "incremental":
        return ctx.watermarks.get(request.watermark_scope(owner), ref.uuid) or FULL_EXPORT
    return FULL_EXPORT


def dispatch_pending_projects(ctx: WorkerContext, job_id: str) -> None:
    """Send a task for every project unit not sent yet (a redelivered plan sends the rest)."""
    for ref in ctx.jobs.undispatched(ctx.jobs.get(job_id)):
        ctx.dispatcher.project(job_id, ref)
        ctx.jobs.mark_dispatched(job_id, project_unit(ref.uuid))


def run_unit(
    ctx: WorkerContext, job_id: str, unit: str, label: str, work: Callable[[UnitRun], None]
) -> None:
    """Claim the unit, run its work, and turn how it ended into the unit's final state:
    succeeded; skipped (Revizto refused it: UnitSkipped); failed (the job goes on); or the
    whole job stopped (worker/outcomes.py)."""
    run = ctx.unit_run(job_id, unit)
    claim = run.claim()
    if not claim.claimed:
        log.info(
            "unit not taken job=%s unit=%s because=%s state=%s",
            job_id,
            unit,
            claim.outcome,
            claim.state,
        )
        return
    if claim.requeues > MAX_REQUEUES:
        error = JobError(
            "worker_lost", f"{label} was restarted {claim.requeues} times without finishing"
        )
        _finish_unit(ctx, run, UnitState.FAILED, error)
        return
    try:
        with run:
            run.check(force=True)
            work(run)
    except UnitStopped as stopped:
        log.info("unit stopped job=%s unit=%s reason=%s", job_id, unit, stopped.reason)
        return
    except UnitSkipped as skipped:
        log.warning(
            "unit skipped job=%s unit=%s reason=%s detail=%s",
            job_id,
            unit,
            skipped.reason,
            skipped.detail,
        )
        # Its files stay stored but are never complete: only a succeeded unit's are.
        fields = {"skip_reason": skipped.reason, "skip_detail": skipped.detail[:500]}
        _finish_unit(ctx, run, UnitState.SKIPPED, None, fields)
        return
    except redis.RedisError:
        # Nothing can be recorded without Redis; the reaper redoes the unit once it is back.
        log.exception("unit lost its Redis connection job=%s unit=%s", job_id, unit)
        raise
    except Exception as exc:
        outcome = classify(exc, label)
        if outcome.code == "internal_error":
            log.exception("unit crashed job=%s unit=%s", job_id, unit)
        error = JobError(outcome.code, outcome.message)
        if outcome.stops_job:
            if ctx.jobs.stop(
                job_id, JobState.FAILED, error=error, failing_unit=unit, unit_error=error
            ).stopped:
                log.error(
                    "export failed job=%s code=%s message=%s", job_id, error.code, error.message
                )
                publish(ctx, job_id)
            return
        log.error(
            "unit failed job=%s unit=%s code=%s message=%s", job_id, unit, error.code, error.message
        )
        _finish_unit(ctx, run, UnitState.FAILED, error)
        return
    _finish_unit(ctx, run, UnitState.SUCCEEDED, None)


def _finish_unit(
    ctx: WorkerContext,
    run: UnitRun,
    state: UnitState,
    error: JobError | None,
    fields: dict[str, str] | None = None,
) -> None:
    left = run.finish(state, error, fields)
    if left is not None and left <= 0 and ctx.jobs.finish(run.job_id) is not None:
        publish(ctx, run.job_id)


@app.task(name="worker.tasks.publish_job")
def publish_job(job_id: str) -> None:
    publish(_ctx(), job_id)


@app.task(name="worker.tasks.deliver_notification")
def deliver_notification(job_id: str, notification_id: str) -> None:
    ctx = _ctx()
    found = ctx.jobs.notification(job_id, notification_id)
    if found is None or found[0].state != "pending":
        return  # delivered, given up, or the job was deleted
    secret = settings.webhook_secret.get_secret_value()
    if not secret:
        log.error("webhook not sent: EXPORT_WEBHOOK_SECRET is not set id=%s", notification_id)
        return
    notification, payload = found
    after = deliver(
        notification,
        payload,
        secret,
        retry_base=settings.webhook_retry_base_seconds,
    )
    outcome = after.state if after.state != "pending" else "retrying"
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    ctx.jobs.update_notification(job_id, after)


@app.task(name="worker.tasks.apply_retention")
def apply_retention() -> dict[str, int]:
    ctx = _ctx()
    return remove_expired(
        ctx.jobs,
        ctx.storage,
        retention_days=settings.retention_days,
        # No task outlives its hard time limit: an upload older than that has no writer.
        stale_upload_seconds=settings.task_time_limit + STALE_UPLOAD_MARGIN_SECONDS,
    )
