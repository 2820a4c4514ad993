"""The caller's rights: a role on each licence and access to each project, which
`POST /_sandbox/permissions` lowers so a test can prove an export skips what a service
account may not read (docs/revizto-api.md §4.2, §5a).

Everything starts readable: licence administrator (role 4) everywhere, every project open.
A licence below role 4 refuses its licence-level routes (team, project lists) with -20; a
project without access refuses its data routes with -20. That split is our inference, not
an observation: public clients only show that -20 comes back from those routes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import uuid_key

# Revizto's licence roles as one public client lists them (docs/revizto-api.md §4.2):
# 1 guest, 2 collaborator, 3 content creator, 4 licence administrator.
LOWEST_ROLE = 1
LICENCE_ADMIN = 4
LICENCE_FORM = ("license_uuid", "role")
PROJECT_FORM = ("project_uuid", "access")


class PermissionUpdateError(ValueError):
    """A permission update the route must refuse with a 400 naming `field`."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class LicenceRole:
    """`{"license_uuid", "role"}`: the caller's role on one licence."""

    license_uuid: str
    role: int


@dataclass(frozen=True)
class ProjectAccess:
    """`{"project_uuid", "access"}`: whether the caller may read one project."""

    project_uuid: str
    access: bool


def parse_update(body: Any) -> LicenceRole | ProjectAccess:
    """One of the two forms, checked whole; PermissionUpdateError names what is wrong."""
    if not isinstance(body, Mapping):
        raise PermissionUpdateError(
            "body", 'expected {"license_uuid", "role"} or {"project_uuid", "access"}'
        )
    form = LICENCE_FORM if "license_uuid" in body else PROJECT_FORM
    extra = sorted(set(body) - set(form))
    if extra:
        raise PermissionUpdateError(extra[0], f"not allowed with {form[0]}")
    for name in form:
        if name not in body:
            raise PermissionUpdateError(name, "is required")
    reference = body[form[0]]
    if not isinstance(reference, str) or not reference.strip():
        raise PermissionUpdateError(form[0], "must be a uuid")
    if form == LICENCE_FORM:
        role = body["role"]
        if isinstance(role, bool) or not isinstance(role, int):
            raise PermissionUpdateError("role", "must be an integer")
        if not LOWEST_ROLE <= role <= LICENCE_ADMIN:
            raise PermissionUpdateError(
                "role", f"must be between {LOWEST_ROLE} and {LICENCE_ADMIN}"
            )
        return LicenceRole(reference, role)
    access = body["access"]
    if not isinstance(access, bool):
        raise PermissionUpdateError("access", "must be true or false")
    return ProjectAccess(reference, access)


class Permissions:
    """The live settings, shared by every request thread. Keyed by uuid_key(), so any
    spelling of a uuid finds them; the value keeps the spelling it was set with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roles: dict[str, tuple[str, int]] = {}
        self._closed_projects: dict[str, str] = {}

    def role(self, licence_uuid: str) -> int:
        with self._lock:
            _, role = self._roles.get(uuid_key(licence_uuid), (licence_uuid, LICENCE_ADMIN))
            return role

    def administers(self, licence_uuid: str) -> bool:
        """Whether licence-level routes answer: Revizto keeps them for licence admins."""
        return self.role(licence_uuid) >= LICENCE_ADMIN

    def may_read(self, project_uuid: str) -> bool:
        with self._lock:
            return uuid_key(project_uuid) not in self._closed_projects

    def set_role(self, licence_uuid: str, role: int) -> None:
        key = uuid_key(licence_uuid)
        with self._lock:
            if role >= LICENCE_ADMIN:
                self._roles.pop(key, None)
            else:
                self._roles[key] = (licence_uuid, role)

    def set_access(self, project_uuid: str, access: bool) -> None:
        key = uuid_key(project_uuid)
        with self._lock:
            if access:
                self._closed_projects.pop(key, None)
            else:
                self._closed_projects[key] = project_uuid

    def reset(self) -> None:
        with self._lock:
            self._roles.clear()
            self._closed_projects.clear()

    def as_json(self) -> dict[str, Any]:
        """Only what differs from the default: lowered roles, closed projects."""
        with self._lock:
            return {
                "license_roles": dict(sorted(self._roles.values())),
                "closed_projects": sorted(self._closed_projects.values()),
            }
