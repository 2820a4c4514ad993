"""The job as a typed value: what the store reads out of Redis, and what the API view, the
manifest and the webhook payload are built from.

A job is a set of units: the account part (licences, projects, licence members), done by
the planning task, and one unit per project. Each unit has its own state, attempts, error
and record counts, so one failing project never hides the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.eligibility import skip_entry
from jobs.states import JobState, UnitState

ACCOUNT_UNIT = "account"
PROJECT_UNIT_PREFIX = "project:"


def project_unit(project_uuid: str) -> str:
    return f"{PROJECT_UNIT_PREFIX}{project_uuid}"


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def to_json_text(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def from_text(cls, raw: str | None) -> JobError | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(code=str(data["code"]), message=str(data["message"]))


@dataclass(frozen=True)
class ProjectRef:
    """What a project unit needs to know about its project (JSON-safe for the broker)."""

    uuid: str
    id: int  # Revizto's numeric project id: the comments endpoint wants this one
    title: str
    license_uuid: str
    skip_reason: str | None = None  # set when the plan skips it (archived, frozen)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "uuid": self.uuid,
            "id": self.id,
            "title": self.title,
            "license_uuid": self.license_uuid,
        }
        if self.skip_reason is not None:
            data["skip_reason"] = self.skip_reason
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectRef:
        return cls(
            uuid=str(data["uuid"]),
            id=int(data["id"]),
            title=str(data.get("title") or ""),
            license_uuid=str(data["license_uuid"]),
            skip_reason=data.get("skip_reason"),
        )


@dataclass(frozen=True)
class FileEntry:
    """One committed export file, as the manifest lists it."""

    name: str
    size: int
    sha256: str
    records: int
    resource: str
    unit: str
    project_uuid: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "records": self.records,
            "resource": self.resource,
            "unit": self.unit,
        }
        if self.project_uuid is not None:
            entry["project_uuid"] = self.project_uuid
        return entry

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEntry:
        return cls(
            name=str(data["name"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            records=int(data["records"]),
            resource=str(data["resource"]),
            unit=str(data.get("unit", ACCOUNT_UNIT)),
            project_uuid=data.get("project_uuid"),
        )


FULL_EXPORT = "full"  # a unit's `since` when it reads everything


@dataclass(frozen=True)
class Unit:
    name: str
    state: UnitState
    attempts: int = 0
    requeues: int = 0
    retries: int = 0
    error: JobError | None = None
    next_attempt_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    records: dict[str, int] = field(default_factory=dict)
    issues_total: int | None = None
    issues_seen: int = 0
    watermark: str | None = None  # Revizto's `synchronized` for the next incremental run
    # What a project's issues were read since, decided when it first starts and kept for
    # its resumes: FULL_EXPORT, or a Revizto watermark; None until decided.
    since: str | None = None
    project: ProjectRef | None = None
    # Why a unit that started was skipped (`access_denied`: Revizto refused the project
    # mid-export), and Revizto's refusal; the plan's reasons are on `project`.
    refusal_reason: str | None = None
    refusal_detail: str | None = None

    @property
    def skip_reason(self) -> str | None:
        if self.project is not None and self.project.skip_reason is not None:
            return self.project.skip_reason
        return self.refusal_reason if self.state == UnitState.SKIPPED else None

    def refusal_skip(self) -> dict[str, Any] | None:
        """The `skipped` entry of a project skipped while it ran, or None."""
        project = self.project
        if project is None or self.state != UnitState.SKIPPED or self.refusal_reason is None:
            return None
        return skip_entry(
            "project",
            project.uuid,
            project.title,
            self.refusal_reason,
            license_uuid=project.license_uuid,
            detail=self.refusal_detail,
        )

    def fraction_done(self) -> float:
        """How much of this unit is done, from 0 to 1, as well as Revizto's counts tell."""
        if self.state.final:
            return 1.0
        if self.issues_total:
            return min(1.0, self.issues_seen / self.issues_total)
        return 0.0

    @classmethod
    def from_fields(
        cls,
        name: str,
        fields: Mapping[str, str],
        records: Mapping[str, int],
        project: ProjectRef | None,
    ) -> Unit:
        return cls(
            name=name,
            state=UnitState(fields.get("state", UnitState.QUEUED.value)),
            attempts=_int(fields.get("attempts")),
            requeues=_int(fields.get("requeues")),
            retries=_int(fields.get("retries")),
            error=JobError.from_text(fields.get("error")),
            next_attempt_at=_float(fields.get("next_attempt_at")),
            started_at=_float(fields.get("started_at")),
            finished_at=_float(fields.get("finished_at")),
            records=dict(records),
            issues_total=_int(fields["issues_total"]) if fields.get("issues_total") else None,
            issues_seen=_int(fields.get("issues_seen")),
            watermark=fields.get("watermark") or None,
            since=fields.get("since") or None,
            project=project,
            refusal_reason=fields.get("skip_reason") or None,
            refusal_detail=fields.get("skip_detail") or None,
        )


@dataclass(frozen=True)
class Notification:
    """One webhook delivery of a finished job (Standard Webhooks, retried for 24 hours)."""

    id: str
    url: str
    state: str  # pending | delivered | failed
    attempts: int
    created_at: float
    last_status: str | None = None
    last_attempt_at: float | None = None
    next_attempt_at: float | None = None
    delivered_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "state": self.state,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "last_status": self.last_status,
            "last_attempt_at": self.last_attempt_at,
            "next_attempt_at": self.next_attempt_at,
            "delivered_at": self.delivered_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            id=str(data["id"]),
            url=str(data["url"]),
            state=str(data["state"]),
            attempts=int(data["attempts"]),
            created_at=float(data["created_at"]),
            last_status=data.get("last_status"),
            last_attempt_at=data.get("last_attempt_at"),
            next_attempt_at=data.get("next_attempt_at"),
            delivered_at=data.get("delivered_at"),
        )


@dataclass(frozen=True)
class Job:
    id: str
    state: JobState
    request: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: JobError | None
    account: Unit
    projects: list[Unit]  # planned order; skipped projects included
    files: list[FileEntry]
    skipped: list[dict[str, Any]]  # the plan's skips, then projects refused while running
    notifications: list[Notification]
    planned: bool
    runs: int  # 1, plus one per `:retry`
    owner: str = ""  # the name of the API key that created it

    def unit(self, name: str) -> Unit | None:
        if name == ACCOUNT_UNIT:
            return self.account
        return next((u for u in self.projects if u.name == name), None)

    def units(self) -> list[Unit]:
        return [self.account, *self.projects]

    def records(self) -> dict[str, int]:
        """Records written so far, per resource, over every unit."""
        totals: dict[str, int] = {}
        for unit in self.units():
            for resource, count in unit.records.items():
                totals[resource] = totals.get(resource, 0) + count
        return dict(sorted(totals.items()))

    def count_projects(self, state: UnitState) -> int:
        return sum(1 for u in self.projects if u.state == state)

    def file_complete(self, entry: FileEntry) -> bool:
        """A file is complete when the unit that wrote it succeeded."""
        unit = self.unit(entry.unit)
        return unit is not None and unit.state == UnitState.SUCCEEDED

    def percent(self) -> float | None:
        """Share of the work done, weighting each project by its issue count (known from
        Revizto's first issue page); None while nothing tells how big the job is."""
        if self.state.finished:
            return 100.0
        active = [u for u in self.projects if u.state != UnitState.SKIPPED]
        if not self.planned or not active:
            return None
        known = [u.issues_total for u in active if u.issues_total]
        if not known and not any(u.state.final for u in active):
            return None
        # A project not yet started counts as big as the average known one.
        default_weight = sum(known) / len(known) if known else 1.0
        weights = [float(u.issues_total or default_weight) for u in active]
        done = sum(w * u.fraction_done() for w, u in zip(weights, active, strict=True))
        return round(100.0 * done / sum(weights), 1)

    def eta_seconds(self, now: float) -> int | None:
        """Time left at the pace so far; None when the pace is not known yet."""
        percent = self.percent()
        if self.state != JobState.RUNNING or not percent or self.started_at is None:
            return None
        elapsed = max(0.0, now - self.started_at)
        return round(elapsed * (100.0 - percent) / percent)

    @classmethod
    def from_redis(
        cls,
        job: Mapping[str, str],
        units: Mapping[str, str],
        records: Mapping[str, str],
        files: Mapping[str, str],
        notifications: Mapping[str, str],
    ) -> Job:
        per_unit: dict[str, dict[str, str]] = {}
        for key, value in units.items():
            unit, _, name = key.rpartition("|")
            per_unit.setdefault(unit, {})[name] = value
        unit_records: dict[str, dict[str, int]] = {}
        for key, count in records.items():
            # "unit|resource" or "unit|resource|scope": summed per resource.
            unit, resource, *_ = key.split("|")
            bucket = unit_records.setdefault(unit, {})
            bucket[resource] = bucket.get(resource, 0) + int(count)
        planned = [ProjectRef.from_json(p) for p in json.loads(job.get("projects") or "[]")]
        projects = [
            Unit.from_fields(
                project_unit(ref.uuid),
                per_unit.get(project_unit(ref.uuid), {}),
                unit_records.get(project_unit(ref.uuid), {}),
                ref,
            )
            for ref in planned
        ]
        account = Unit.from_fields(
            ACCOUNT_UNIT, per_unit.get(ACCOUNT_UNIT, {}), unit_records.get(ACCOUNT_UNIT, {}), None
        )
        # What the plan skipped, then the projects Revizto refused while they ran.
        skipped: list[dict[str, Any]] = json.loads(job.get("skipped") or "[]")
        skipped += [entry for unit in projects if (entry := unit.refusal_skip()) is not None]
        return cls(
            id=job["id"],
            state=JobState(job["state"]),
            request=json.loads(job["request"]),
            created_at=float(job["created_at"]),
            started_at=_float(job.get("started_at")),
            finished_at=_float(job.get("finished_at")),
            error=JobError.from_text(job.get("error")),
            account=account,
            projects=projects,
            files=sorted(
                (FileEntry.from_json(json.loads(v)) for v in files.values()),
                key=lambda f: f.name,
            ),
            skipped=skipped,
            notifications=sorted(
                (
                    Notification.from_json(json.loads(v))
                    for k, v in notifications.items()
                    if "|" not in k
                ),
                key=lambda n: n.created_at,
            ),
            planned=bool(job.get("planned")),
            runs=1 + _int(job.get("retries")),
            owner=job.get("owner", ""),
        )


def _int(value: str | None) -> int:
    return int(value) if value else 0


def _float(value: str | None) -> float | None:
    return float(value) if value else None
