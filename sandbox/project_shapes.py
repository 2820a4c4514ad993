"""Licences, projects and their teams in the shapes Revizto returns them
(docs/revizto-api.md §4.2-§4.4)."""

from __future__ import annotations

from typing import Any

from sandbox.dataset import FROZEN_REASON, Licence, Project
from sandbox.identifiers import derived_uuid
from sandbox.people import Person, licence_member_json, project_member_json, user_json
from sandbox.permissions import LICENCE_ADMIN
from sandbox.timestamps import NEVER

REGION = "us-east-1"
LICENCE_CREATED = "2019-03-14 09:12:44"
LICENCE_EXPIRES = "2030-12-31"
PROJECT_CREATED = "2022-11-07 10:20:30"
PROJECT_UPDATED = "2025-06-30 17:45:12"
PREVIEW_BASE = "https://media.example.invalid/previews"


def owner_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "uuid": person.uuid,
        "firstname": person.firstname,
        "lastname": person.lastname,
        "email": person.email,
        "role": LICENCE_ADMIN,
    }


def licence_json(licence: Licence, owner: Person, *, role: int = LICENCE_ADMIN) -> dict[str, Any]:
    """One entity of `GET /v5/user/licenses`; `role` is the caller's on this licence."""
    return {
        "id": licence.id,
        "uuid": licence.uuid,
        "name": licence.name,
        "expires": LICENCE_EXPIRES,
        "created": LICENCE_CREATED,
        "region": REGION,
        "type": 1,
        "licenseClass": 2,
        "role": role,
        "frozen": licence.frozen,
        "frozenReason": FROZEN_REASON if licence.frozen else 0,
        "frozenReasons": [FROZEN_REASON] if licence.frozen else [],
        "owner": owner_json(owner),
        "plan": {"users": 50, "projects": 100},
        "slots": {"projects": len(licence.projects), "users": len(licence.members)},
        "licenseOptions": {
            "allowApiAccess": licence.api_access,
            "clashAutomation": licence.api_access,
            "isWorkflowEnabled": True,
            "allowBCFExport": True,
        },
        "authMethod": {
            "type": "password",
            "title": "Revizto",
            "uuid": derived_uuid("auth-method", licence.uuid),
            "isActive": True,
            "require": False,
        },
        "permit": {
            "id": licence.id * 10,
            "uuid": derived_uuid("permit", licence.uuid),
            "permissions": [1, 2, 3, 5, 8],
        },
        "memberCompanies": sorted({person.company for person in licence.members}),
        "memberDepartments": sorted({person.department for person in licence.members}),
        "memberLocations": sorted({person.location for person in licence.members}),
        "projectMetaTags": [],
        "memberMetaTags": [],
        "logo": "",
        "visibleCompany": True,
    }


def licence_team_json(licence: Licence, *, with_deactivated: bool) -> list[dict[str, Any]]:
    """`license/{uuid}/team` entities; the licence's last member is deactivated."""
    members = []
    for position, person in enumerate(licence.members):
        deactivated = position == len(licence.members) - 1 and position > 0
        if deactivated and not with_deactivated:
            continue
        role = LICENCE_ADMIN if position == 0 else 2 + position % 2
        members.append(licence_member_json(person, role=role, deactivated=deactivated))
    return members


def project_json(project: Project, user: Person) -> dict[str, Any]:
    """One project of `license/{uuid}/projects` and `project/list/{uuid}/paged`."""
    licence = project.licence
    revision_author = project.team[0]
    return {
        "id": project.id,
        "uuid": project.uuid,
        "title": project.title,
        "description": f"{project.title}: coordination model",
        "created": PROJECT_CREATED,
        "updated": PROJECT_UPDATED,
        "lastActive": PROJECT_UPDATED,
        "lastArchived": PROJECT_UPDATED if project.archived else NEVER,
        "archived": project.archived,
        "frozen": licence.frozen,
        "frozenReason": FROZEN_REASON if licence.frozen else 0,
        "frozenReasons": [FROZEN_REASON] if licence.frozen else [],
        "locked": False,
        "visibility": 0,
        "owner": {
            "id": revision_author.id,
            "fullname": revision_author.fullname,
            "email": revision_author.email,
            "frozen": False,
        },
        "revision": {
            "id": project.id * 3,
            "uuid": derived_uuid("revision", project.uuid),
            "number": 12,
            "author": {
                "id": revision_author.id,
                "uuid": revision_author.uuid,
                "email": revision_author.email,
                "firstname": revision_author.firstname,
                "lastname": revision_author.lastname,
            },
            "created": PROJECT_UPDATED,
            "notes": "",
            "description": "Weekly federated model",
            "project_version": 12,
            "home_viewpoint_uuid": derived_uuid("viewpoint", project.uuid),
            "size": 734_003_200,
        },
        "has3d": True,
        "members": len(project.team),
        "region": REGION,
        "license_id": licence.id,
        "metaTags": [],
        "abbreviate": project.abbreviate,
        "disableRegularIssueCreation": False,
        "preview": f"{PREVIEW_BASE}/{project.id}.jpeg" if project.has_preview_images else "",
        "smallPreview": f"{PREVIEW_BASE}/{project.id}_small.jpeg"
        if project.has_preview_images
        else "",
        "previewImages": _preview_images(project),
        "member": {
            "id": user.id + 17,
            "uuid": user.member_uuid,
            "role": LICENCE_ADMIN,
            "license": {"id": licence.id, "uuid": licence.uuid, "name": licence.name},
            "user": user_json(user),
        },
        "licenseRole": LICENCE_ADMIN,
        "accessRole": {
            "id": 1,
            "uuid": derived_uuid("access-role", licence.uuid, "admin"),
            "name": "Project admin",
            "system": True,
        },
        "accessLevel": "admin",
        "shareProject": True,
        "deleteProject": True,
        "archiveProject": True,
    }


def _preview_images(project: Project) -> dict[str, Any] | list[Any]:
    # Projects without a preview serialise the object as `[]` (docs/revizto-api.md §3e).
    if not project.has_preview_images:
        return []
    base = f"{PREVIEW_BASE}/{project.id}"
    return {
        "original": {"jpeg": f"{base}.jpeg", "webp": f"{base}.webp"},
        "small": {"jpeg": f"{base}_small.jpeg", "webp": f"{base}_small.webp"},
    }


def project_team_json(project: Project) -> list[dict[str, Any]]:
    """`project/{uuid}/team` entities; the first member administers the project."""
    admin_role = derived_uuid("access-role", project.licence.uuid, "admin")
    member_role = derived_uuid("access-role", project.licence.uuid, "member")
    return [
        project_member_json(
            person, role_uuid=admin_role if position == 0 else member_role, admin=position == 0
        )
        for position, person in enumerate(project.team)
    ]
