"""Retention: finished jobs older than EXPORT_RETENTION_DAYS are removed with their files,
and job folders nobody knows any more (a job deleted while a unit was writing) are swept.
Run by Celery beat (`celery -A worker.celery_app beat`)."""

from __future__ import annotations

import logging
import time

from jobs.files import ExportFiles
from jobs.store import JobStore

log = logging.getLogger(__name__)

# A folder without a job record is left alone this long: its job may be being created.
ORPHAN_GRACE_SECONDS = 3600.0


def apply_retention(
    jobs: JobStore, files: ExportFiles, *, retention_days: float, now: float | None = None
) -> dict[str, int]:
    now = time.time() if now is None else now
    removed = 0
    for job_id in jobs.finished_before(now - retention_days * 86400):
        jobs.delete(job_id)
        files.delete(job_id)
        removed += 1
    orphans = 0
    for job_id, modified in files.job_ids():
        if modified < now - ORPHAN_GRACE_SECONDS and not jobs.exists(job_id):
            files.delete(job_id)
            orphans += 1
    if removed or orphans:
        log.info(
            "retention removed jobs=%d orphaned_folders=%d days=%g",
            removed,
            orphans,
            retention_days,
        )
    return {"jobs": removed, "orphans": orphans}
