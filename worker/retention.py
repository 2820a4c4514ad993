"""Retention: finished jobs older than EXPORT_RETENTION_DAYS are removed with their files,
job folders (or key prefixes) nobody knows any more (a job deleted while a unit was
writing) are swept, and unfinished uploads no live writer can own any more (a worker
killed mid-file) are aborted. Run by Celery beat (`celery -A worker.celery_app beat`)."""

from __future__ import annotations

import logging
import time

from jobs.storage import ExportStorage
from jobs.store import JobStore

log = logging.getLogger(__name__)

# A folder without a job record is left alone this long: its job may be being created.
ORPHAN_GRACE_SECONDS = 3600.0
# Added to the task time limit before an unfinished upload counts as abandoned.
STALE_UPLOAD_MARGIN_SECONDS = 3600.0


def apply_retention(
    jobs: JobStore,
    storage: ExportStorage,
    *,
    retention_days: float,
    stale_upload_seconds: float,
    now: float | None = None,
) -> dict[str, int]:
    now = time.time() if now is None else now
    removed = 0
    for job_id in jobs.finished_before(now - retention_days * 86400):
        jobs.delete(job_id)
        storage.delete(job_id)
        removed += 1
    orphans = 0
    for job_id, modified in list(storage.job_ids()):
        if modified < now - ORPHAN_GRACE_SECONDS and not jobs.exists(job_id):
            storage.delete(job_id)
            orphans += 1
    stale = storage.abort_stale_uploads(now - stale_upload_seconds)
    if removed or orphans or stale:
        log.info(
            "retention removed jobs=%d orphaned_folders=%d stale_uploads=%d days=%g",
            removed,
            orphans,
            stale,
            retention_days,
        )
    return {"jobs": removed, "orphans": orphans, "stale_uploads": stale}
