"""What callers see of a job: the API's JSON, the webhook's payload, the manifest's
per-project outcomes. Pydantic models, so the shapes are declared once."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from jobs.model import FULL_EXPORT, FileEntry, Job, JobError, Notification, Unit
from jobs.states import JobState, UnitState
from jobs.timestamps import revizto_to_rfc3339, rfc3339, rfc3339_or_none


class ErrorView(BaseModel):
    code: str
    message: str

    @classmethod
    def of(cls, error: JobError | None) -> ErrorView | None:
        return None if error is None else cls(code=error.code, message=error.message)


class UnitView(BaseModel):
    state: UnitState
    attempts: int = Field(description="times it was started (redeliveries, retries)")
    retries: int = Field(description="requests retried after Revizto failed")
    last_error: ErrorView | None
    next_attempt_at: str | None = Field(description="when a retrying unit tries again")
    records: dict[str, int]
    started_at: str | None
    finished_at: str | None


class AccountView(UnitView):
    """The account-level part: licences, projects, licence members."""


class ProjectView(UnitView):
    project_uuid: str
    name: str
    license_uuid: str
    issues_total: int | None = Field(description="issues Revizto reported, once known")
    skip_reason: str | None = Field(default=None, description="why it is skipped (SkipView)")
    since: str | None = Field(
        default=None,
        description="the moment its issues were read since (RFC 3339); null: in full",
    )


class SkipView(BaseModel):
    """A licence or project the job left out, and why (jobs/eligibility.py)."""

    kind: str = Field(description="license or project")
    uuid: str | None
    name: str | None
    license_uuid: str | None = Field(default=None, description="a project's licence")
    reason: str = Field(
        description="frozen, no_api_access, insufficient_role (not licence administrator), "
        "archived, or access_denied (Revizto refused the project while it was exported)"
    )
    detail: str | None = Field(default=None, description="Revizto's refusal, when one was why")


class FileView(BaseModel):
    name: str
    size: int
    sha256: str
    records: int
    resource: str
    project_uuid: str | None = None
    complete: bool = Field(description="the unit that wrote it succeeded")


class NotificationView(BaseModel):
    id: str
    url: str
    state: str
    attempts: int
    last_status: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None


class Progress(BaseModel):
    projects_total: int
    projects_done: int = Field(description="projects that succeeded")
    projects_failed: int
    projects_running: int
    projects_retrying: int
    projects_queued: int
    projects_skipped: int
    projects_cancelled: int
    records: dict[str, int]


class JobSummary(BaseModel):
    """A job without its per-project and per-file detail (what listings show)."""

    id: str
    state: JobState
    request: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    percent: float | None = Field(description="share of the work done, when knowable")
    eta_seconds: int | None = Field(description="time left at the pace so far, when knowable")
    progress: Progress
    error: ErrorView | None
    runs: int = Field(description="1, plus one per :retry")
    owner: str = Field(description="the name of the API key that created the job")


class JobView(JobSummary):
    account: AccountView
    projects: list[ProjectView]
    skipped: list[SkipView]
    files: list[FileView]
    notifications: list[NotificationView]


def _progress(job: Job) -> Progress:
    active = [u for u in job.projects if u.state != UnitState.SKIPPED]
    return Progress(
        projects_total=len(active),
        projects_done=job.count_projects(UnitState.SUCCEEDED),
        projects_failed=job.count_projects(UnitState.FAILED),
        projects_running=job.count_projects(UnitState.RUNNING),
        projects_retrying=job.count_projects(UnitState.RETRYING),
        projects_queued=job.count_projects(UnitState.QUEUED),
        projects_skipped=job.count_projects(UnitState.SKIPPED),
        projects_cancelled=job.count_projects(UnitState.CANCELLED),
        records=job.records(),
    )


def _summary_fields(job: Job, now: float) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "request": job.request,
        "created_at": rfc3339(job.created_at),
        "started_at": rfc3339_or_none(job.started_at),
        "finished_at": rfc3339_or_none(job.finished_at),
        "percent": job.percent(),
        "eta_seconds": job.eta_seconds(now),
        "progress": _progress(job),
        "error": ErrorView.of(job.error),
        "runs": job.runs,
        "owner": job.owner,
    }


def _unit_fields(unit: Unit) -> dict[str, Any]:
    return {
        "state": unit.state,
        "attempts": unit.attempts,
        "retries": unit.retries,
        "last_error": ErrorView.of(unit.error),
        "next_attempt_at": rfc3339_or_none(unit.next_attempt_at),
        "records": unit.records,
        "started_at": rfc3339_or_none(unit.started_at),
        "finished_at": rfc3339_or_none(unit.finished_at),
    }


def _project(unit: Unit) -> ProjectView:
    project = unit.project
    if project is None:
        raise ValueError(f"unit {unit.name} carries no project")
    return ProjectView(
        **_unit_fields(unit),
        project_uuid=project.uuid,
        name=project.title,
        license_uuid=project.license_uuid,
        issues_total=unit.issues_total,
        skip_reason=unit.skip_reason,
        since=revizto_to_rfc3339(unit.since) if unit.since and unit.since != FULL_EXPORT else None,
    )


def _skip(entry: dict[str, Any]) -> SkipView:
    def text(name: str) -> str | None:
        value = entry.get(name)
        return None if value is None else str(value)

    return SkipView(
        kind=str(entry.get("kind")),
        uuid=text("uuid"),
        name=text("name"),
        license_uuid=text("license_uuid"),
        reason=str(entry.get("reason")),
        detail=text("detail"),
    )


def _file(job: Job, entry: FileEntry) -> FileView:
    return FileView(
        name=entry.name,
        size=entry.size,
        sha256=entry.sha256,
        records=entry.records,
        resource=entry.resource,
        project_uuid=entry.project_uuid,
        complete=job.file_complete(entry),
    )


def _notification(notification: Notification) -> NotificationView:
    return NotificationView(
        id=notification.id,
        url=notification.url,
        state=notification.state,
        attempts=notification.attempts,
        last_status=notification.last_status,
        last_attempt_at=rfc3339_or_none(notification.last_attempt_at),
        next_attempt_at=rfc3339_or_none(notification.next_attempt_at),
        delivered_at=rfc3339_or_none(notification.delivered_at),
    )


def job_summary(job: Job, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return JobSummary(**_summary_fields(job, now)).model_dump(mode="json")


def job_view(job: Job, now: float | None = None, *, notifications: bool = True) -> dict[str, Any]:
    """The whole job; `notifications=False` for the webhook's own payload."""
    now = time.time() if now is None else now
    view = JobView(
        **_summary_fields(job, now),
        account=AccountView(**_unit_fields(job.account)),
        projects=[_project(u) for u in job.projects],
        skipped=[_skip(entry) for entry in job.skipped],
        files=[_file(job, f) for f in job.files],
        notifications=[_notification(n) for n in job.notifications] if notifications else [],
    )
    return view.model_dump(mode="json")


def watermarks(job: Job) -> dict[str, str]:
    """Each succeeded project's watermark (RFC 3339) to pass as `updated_since` next time."""
    marks = {}
    for unit in job.projects:
        if unit.project is not None and unit.watermark and unit.state == UnitState.SUCCEEDED:
            converted = revizto_to_rfc3339(unit.watermark)
            if converted is not None:
                marks[unit.project.uuid] = converted
    return dict(sorted(marks.items()))
