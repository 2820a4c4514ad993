"""manifest.json, written whenever a job finishes, in every final state: every complete
file with its size, sha256 and record count, and each project's outcome. It is built from
the job record, and it is the last file written: a folder without it is not finished."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.model import Job
from jobs.timestamps import revizto_to_rfc3339, rfc3339, rfc3339_or_none
from jobs.view import job_view, watermarks

MANIFEST_VERSION = 2


def build_manifest(job: Job, carried: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`carried`: the destination's stored watermarks (Revizto format, by project uuid),
    listed for every project so that no manifest drops one; this job's own win."""
    view = job_view(job, notifications=False)
    complete = [
        {k: v for k, v in f.items() if k != "complete"} for f in view["files"] if f["complete"]
    ]
    return {
        "manifest_version": MANIFEST_VERSION,
        "job_id": job.id,
        "state": job.state.value,
        "created_at": rfc3339(job.created_at),
        "started_at": rfc3339_or_none(job.started_at),
        "finished_at": rfc3339_or_none(job.finished_at),
        "request": job.request,
        "error": view["error"],
        # Records in the complete files only: what a consumer of this folder can rely on.
        "records": _records(complete),
        "files": complete,
        "account": {k: view["account"][k] for k in ("state", "last_error", "records")},
        "projects": [
            {
                "project_uuid": p["project_uuid"],
                "name": p["name"],
                "license_uuid": p["license_uuid"],
                "state": p["state"],
                "attempts": p["attempts"],
                "error": p["last_error"],
                "skip_reason": p["skip_reason"],
                "records": p["records"],
                "since": p["since"],
            }
            for p in view["projects"]
        ],
        "skipped": view["skipped"],
        # Pass a project's value as `updated_since` next time for an incremental export.
        "watermarks": {**_converted(carried or {}), **watermarks(job)},
    }


def _converted(marks: Mapping[str, str]) -> dict[str, str]:
    converted = {uuid: revizto_to_rfc3339(mark) for uuid, mark in marks.items()}
    return {uuid: mark for uuid, mark in sorted(converted.items()) if mark is not None}


def _records(files: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in files:
        totals[entry["resource"]] = totals.get(entry["resource"], 0) + int(entry["records"])
    return dict(sorted(totals.items()))
