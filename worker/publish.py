"""Publishing a finished job: its manifest.json (in every final state), its webhook, its
outcome in the metrics. Runs once per finish; the reaper runs it again for a job whose
publisher died before it was done."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from jobs.layout import MANIFEST_NAME
from jobs.manifest import build_manifest
from jobs.model import FULL_EXPORT, Job
from jobs.request import ExportRequest
from jobs.states import UnitState
from jobs.storage import ExportStorage
from jobs.store import JobNotFound
from jobs.view import job_view
from jobs.watermarks import ExportedSpan
from worker.context import WorkerContext
from worker.metrics import EXPORT_JOBS
from worker.webhooks import DELIVERY_LEASE, EVENT_TYPE, new_notification

log = logging.getLogger(__name__)


def write_manifest(storage: ExportStorage, job_id: str, manifest: dict[str, Any]) -> None:
    """Whole and atomically: a reader sees the old manifest or the new one, never half."""
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
    storage.put(job_id, MANIFEST_NAME, data)


def exported_spans(job: Job) -> list[ExportedSpan]:
    """The issue spans this job's succeeded projects exported, for the watermark store."""
    spans = []
    for unit in job.projects:
        if unit.project is None or unit.state != UnitState.SUCCEEDED or not unit.watermark:
            continue
        # A unit from before `since` was recorded read since the request's updated_since.
        since = unit.since or (None if job.request.get("updated_since") else FULL_EXPORT)
        if since is not None:
            spans.append(ExportedSpan(unit.project.uuid, since, unit.watermark))
    return spans


def publish(ctx: WorkerContext, job_id: str) -> None:
    try:
        job = ctx.jobs.get(job_id)
    except JobNotFound:
        return  # deleted meanwhile
    if not job.state.finished:
        return  # retried meanwhile: it will be published when it finishes again
    request = ExportRequest.model_validate(job.request)
    scope = request.watermark_scope(job.owner)
    # Before the manifest, so that it lists the watermarks the next incremental run uses.
    if request.moves_watermarks:
        ctx.watermarks.advance(scope, exported_spans(job))
    manifest = build_manifest(job, ctx.watermarks.all(scope))
    write_manifest(ctx.storage, job_id, manifest)
    notify_url = job.request.get("notify_url")
    now = time.time()
    notification = new_notification(job_id, job.runs, str(notify_url), now)
    if notify_url and not any(n.id == notification.id for n in job.notifications):
        payload = json.dumps(
            {"type": EVENT_TYPE, "job": job_view(job, now, notifications=False)},
            separators=(",", ":"),
        )
        # Due again after a lease, in case this task is lost before it is delivered.
        ctx.jobs.add_notification(job_id, notification, payload, due=now + DELIVERY_LEASE)
        ctx.dispatcher.deliver(job_id, notification.id)
    if ctx.jobs.claim_outcome(job_id):
        EXPORT_JOBS.labels(outcome=job.state.value).inc()
        seconds = (job.finished_at or 0.0) - (job.started_at or job.created_at)
        log.info(
            "export finished job=%s state=%s files=%d records=%s seconds=%.1f",
            job_id,
            job.state.value,
            len(manifest["files"]),
            manifest["records"],
            seconds,
        )
    ctx.jobs.published(job_id)
