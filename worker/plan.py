"""ExportPlan: which licences and projects a job covers, and which it skips and why.

Every licence-level call is made here, before the plan is recorded: a licence whose role is
too low, or whose endpoints refuse, is skipped whole (`insufficient_role`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.eligibility import (
    INSUFFICIENT_ROLE,
    license_unavailable_reason,
    project_skip_reason,
    skip_entry,
)
from jobs.model import ProjectRef
from jobs.request import ExportRequest, normalise_uuid
from revizto.client import ReviztoClient
from revizto.errors import AccessDenied, InvalidResponse


class PlanError(Exception):
    """The request cannot be carried out as asked (unknown licence or projects)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ExportPlan:
    all_licenses: list[dict[str, Any]]
    licenses: list[dict[str, Any]]  # the ones exported
    projects: list[ProjectRef]  # skipped ones too, with their skip_reason
    project_records: list[dict[str, Any]]  # Revizto's objects for the `projects` file
    skipped: list[dict[str, Any]] = field(default_factory=list)
    # Each exported licence's members (`license/{uuid}/team`), read while planning when the
    # request wants members, by licence uuid.
    license_teams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def project_ref(
    project: dict[str, Any], license_uuid: str, skip_reason: str | None = None
) -> ProjectRef:
    project_id = project.get("id")
    if isinstance(project_id, bool) or not isinstance(project_id, int):
        raise InvalidResponse(
            f"project {project.get('uuid')} has no numeric id", endpoint="license_projects"
        )
    return ProjectRef(
        uuid=str(project["uuid"]),
        id=project_id,
        title=str(project.get("title") or ""),
        license_uuid=license_uuid,
        skip_reason=skip_reason,
    )


def build_plan(client: ReviztoClient, request: ExportRequest) -> ExportPlan:
    all_licenses = client.licenses()
    wanted_license = normalise_uuid(request.license_uuid) if request.license_uuid else None
    wanted_projects = {normalise_uuid(u) for u in request.project_uuids or []}

    skipped: list[dict[str, Any]] = []
    licenses: list[dict[str, Any]] = []
    listed: dict[str, list[dict[str, Any]]] = {}
    teams: dict[str, list[dict[str, Any]]] = {}
    for license_ in all_licenses:
        if wanted_license and normalise_uuid(str(license_.get("uuid", ""))) != wanted_license:
            continue
        reason = license_unavailable_reason(license_)
        detail = None
        if reason is None:
            try:
                license_uuid, license_projects, team = _read_license(client, request, license_)
            except AccessDenied as refused:
                # The list said licence admin (or said nothing), but Revizto refused anyway.
                reason, detail = INSUFFICIENT_ROLE, str(refused)
            else:
                licenses.append(license_)
                listed[license_uuid] = license_projects
                if team is not None:
                    teams[license_uuid] = team
                continue
        skipped.append(
            skip_entry("license", license_.get("uuid"), license_.get("name"), reason, detail=detail)
        )
    if wanted_license and not licenses and not skipped:
        # A licence that exists but cannot be exported is a skip like any other: the job
        # succeeds with an empty export naming the reason. Only an unknown one is an error.
        raise PlanError(
            "license_not_found", f"licence {request.license_uuid} is not among this user's licences"
        )

    projects: list[ProjectRef] = []
    records: list[dict[str, Any]] = []
    found: set[str] = set()
    for license_uuid, license_projects in listed.items():
        for project in license_projects:
            key = normalise_uuid(str(project.get("uuid", "")))
            if wanted_projects and key not in wanted_projects:
                continue
            found.add(key)
            reason = project_skip_reason(
                project,
                include_archived=request.include_archived,
                explicitly_asked=key in wanted_projects,
            )
            projects.append(project_ref(project, license_uuid, reason))
            if reason is not None:
                skipped.append(
                    skip_entry(
                        "project",
                        project.get("uuid"),
                        project.get("title"),
                        reason,
                        license_uuid=license_uuid,
                    )
                )
                continue
            records.append(project)
    missing = sorted(wanted_projects - found)
    if missing:
        raise PlanError(
            "projects_not_found",
            f"projects not found in the exported licences: {', '.join(missing)}",
        )
    return ExportPlan(all_licenses, licenses, projects, records, skipped, teams)


def _read_license(
    client: ReviztoClient, request: ExportRequest, license_: dict[str, Any]
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]] | None]:
    """A licence's projects, and its members when the request wants them: every
    licence-level call, made while planning, so that a licence Revizto refuses (AccessDenied)
    is skipped whole before any of its projects is planned."""
    license_uuid = str(license_["uuid"])
    projects = client.license_projects(license_uuid)
    team = client.license_team(license_uuid) if request.wants("members") else None
    return license_uuid, projects, team
