"""A project's issue workflow settings: custom statuses, issue types and workflows
(docs/revizto-api.md §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import derived_uuid

# Revizto's three status categories, and the legacy `status` enum each custom status maps to.
CATEGORY_BY_LEGACY = {
    "open": "To do",
    "in_progress": "Tracking",
    "solved": "Completed",
    "closed": "Completed",
}
COLOURS = {"To do": "#e74c3c", "Tracking": "#f39c12", "Completed": "#27ae60"}
DELETED_AT = "2024-02-01 09:00:00"


@dataclass(frozen=True)
class Status:
    uuid: str
    name: str
    legacy: str

    @property
    def category(self) -> str:
        return CATEGORY_BY_LEGACY[self.legacy]


@dataclass(frozen=True)
class Workflow:
    uuid: str
    name: str
    is_standard: bool
    statuses: tuple[Status, ...]


@dataclass(frozen=True)
class IssueType:
    uuid: str
    name: str
    workflow: Workflow
    is_default: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class ProjectWorkflow:
    """Everything `issue-workflow/settings` returns for one project."""

    workflows: tuple[Workflow, ...]
    types: tuple[IssueType, ...]

    @property
    def active_types(self) -> tuple[IssueType, ...]:
        return tuple(kind for kind in self.types if not kind.deleted)

    def settings_json(self) -> dict[str, Any]:
        statuses = [status for flow in self.workflows for status in flow.statuses]
        return {
            "workflows": [
                {
                    "uuid": flow.uuid,
                    "name": flow.name,
                    "isStandard": flow.is_standard,
                    "statuses": [{"uuid": s.uuid, "deletedAt": None} for s in flow.statuses],
                    "deletedAt": None,
                }
                for flow in self.workflows
            ],
            "types": [
                {
                    "uuid": kind.uuid,
                    "name": kind.name,
                    "isDefault": kind.is_default,
                    "isActive": not kind.deleted,
                    "deletedAt": DELETED_AT if kind.deleted else None,
                    "workflowUuid": kind.workflow.uuid,
                }
                for kind in self.types
            ],
            "statuses": [
                {
                    "uuid": status.uuid,
                    "name": status.name,
                    "category": status.category,
                    "backgroundColor": COLOURS[status.category],
                    "textColor": "#ffffff",
                    "deletedAt": None,
                }
                for status in statuses
            ],
        }


def generated_workflow(seed: int, project_key: str) -> ProjectWorkflow:
    """Two workflows that both hold an "Open" status with different uuids, as one public
    client found (docs/revizto-api.md §4.5)."""

    def status(name: str, legacy: str) -> Status:
        return Status(derived_uuid(seed, project_key, "status", name, legacy), name, legacy)

    standard = Workflow(
        derived_uuid(seed, project_key, "workflow", "standard"),
        "Standard workflow",
        True,
        (
            status("Open", "open"),
            status("In progress", "in_progress"),
            status("Solved", "solved"),
            status("Closed", "closed"),
        ),
    )
    review = Workflow(
        derived_uuid(seed, project_key, "workflow", "review"),
        "Design review",
        False,
        (
            Status(derived_uuid(seed, project_key, "status", "review-open"), "Open", "open"),
            status("Awaiting response", "in_progress"),
            status("Closed - accepted", "closed"),
        ),
    )
    types = (
        IssueType(derived_uuid(seed, project_key, "type", 0), "Standard issue", standard, True),
        IssueType(derived_uuid(seed, project_key, "type", 1), "Clash", standard),
        IssueType(derived_uuid(seed, project_key, "type", 2), "RFI", review),
        IssueType(
            derived_uuid(seed, project_key, "type", 3), "Old punch item", standard, False, True
        ),
    )
    return ProjectWorkflow((standard, review), types)


def captured_workflow(project_key: str, issues: list[dict[str, Any]]) -> ProjectWorkflow:
    """Settings that name every custom status and type the captured issues refer to."""
    statuses: dict[str, Status] = {}
    type_names: dict[str, str] = {}
    for issue in issues:
        status_uuid = _value(issue, "customStatus")
        legacy = _value(issue, "status")
        if isinstance(status_uuid, str) and status_uuid not in statuses:
            legacy = legacy if legacy in CATEGORY_BY_LEGACY else "open"
            name = issue.get("customStatusName") or legacy.replace("_", " ").capitalize()
            statuses[status_uuid] = Status(status_uuid, str(name), legacy)
        type_uuid = _value(issue, "customType")
        if isinstance(type_uuid, str):
            known = type_names.get(type_uuid)
            type_names[type_uuid] = str(issue.get("customTypeName") or known or "")
    flow = Workflow(
        derived_uuid("fixture", project_key, "workflow"),
        "Standard workflow",
        True,
        tuple(statuses.values()),
    )
    types = tuple(
        IssueType(uuid, name or f"Issue type {index + 1}", flow, index == 0)
        for index, (uuid, name) in enumerate(type_names.items())
    )
    return ProjectWorkflow((flow,), types)


def _value(issue: dict[str, Any], field: str) -> Any:
    wrapped = issue.get(field)
    return wrapped.get("value") if isinstance(wrapped, dict) else None
