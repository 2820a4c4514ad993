"""ExportPlan: which licences and projects a job covers, and which it skips and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.eligibility import license_unavailable_reason, project_skip_reason
from jobs.model import ProjectRef
from jobs.request import ExportRequest, normalise_uuid
from revizto.client import ReviztoClient
from revizto.errors import InvalidResponse


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
    for license_ in all_licenses:
        if wanted_license and normalise_uuid(str(license_.get("uuid", ""))) != wanted_license:
            continue
        reason = license_unavailable_reason(license_)
        if reason is not None:
            skipped.append(
                {
                    "kind": "license",
                    "uuid": license_.get("uuid"),
                    "name": license_.get("name"),
                    "reason": reason,
                }
            )
            continue
        licenses.append(license_)
    if wanted_license and not licenses:
        if skipped:
            raise PlanError(
                "license_unavailable",
                f"licence {request.license_uuid} cannot be exported: {skipped[0]['reason']}",
            )
        raise PlanError(
            "license_not_found", f"licence {request.license_uuid} is not among this user's licences"
        )

    projects: list[ProjectRef] = []
    records: list[dict[str, Any]] = []
    found: set[str] = set()
    for license_ in licenses:
        license_uuid = str(license_["uuid"])
        for project in client.license_projects(license_uuid):
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
                    {
                        "kind": "project",
                        "uuid": project.get("uuid"),
                        "name": project.get("title"),
                        "license_uuid": license_uuid,
                        "reason": reason,
                    }
                )
                continue
            records.append(project)
    missing = sorted(wanted_projects - found)
    if missing:
        raise PlanError(
            "projects_not_found",
            f"projects not found in the exported licences: {', '.join(missing)}",
        )
    return ExportPlan(all_licenses, licenses, projects, records, skipped)
