"""POST /_sandbox/permissions: the caller's role on a licence and its access to a project,
as a service account that is not licence administrator everywhere meets them: licence
routes below role 4, and a closed project's data routes, answer -20."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.sandbox import TIMEOUT_S, SandboxFactory, SandboxProcess

LICENCE_ROUTES = (
    "/v5/license/{uuid}/team",
    "/v5/license/{uuid}/projects",
    "/v5/project/list/{uuid}/paged",
)
PROJECT_ROUTES = (
    "team",
    "issue-workflow/settings",
    "issue-preset/list",
    "sheet/list",
    "issue-filter/filter",
    "issue-filter/filter_deleted",
)
DEFAULTS = {"license_roles": {}, "closed_projects": []}


def post_permissions(sandbox: SandboxProcess, body: Any) -> requests.Response:
    return requests.post(sandbox.url("/_sandbox/permissions"), json=body, timeout=TIMEOUT_S)


def permissions(sandbox: SandboxProcess) -> Any:
    return SandboxProcess._json(requests.get(sandbox.url("/_sandbox/permissions"), timeout=10))


def result(sandbox: SandboxProcess, path: str, token: str, **params: Any) -> int:
    """The envelope's `result`, which Revizto sends with HTTP 200 also for a refusal."""
    reply = sandbox.get(path, token, **params)
    assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text[:200]}"
    code: int = reply.json()["result"]
    return code


def roles(sandbox: SandboxProcess, token: str) -> dict[str, int]:
    licences = sandbox.data("/v5/user/licenses", token)["entities"]
    return {licence["uuid"]: licence["role"] for licence in licences}


def project_results(
    sandbox: SandboxProcess, token: str, project: dict[str, Any], issue_uuid: str
) -> dict[str, int]:
    """The result of every data route of `project`, by route."""
    codes = {
        path: result(sandbox, f"/v5/project/{project['uuid']}/{path}", token)
        for path in PROJECT_ROUTES
    }
    numeric = f"/v5/project/{project['id']}/issue-filter/filter"
    codes["issue-filter by id"] = result(sandbox, numeric, token)
    comments = sandbox.comments_reply(token, issue_uuid, project["id"])
    codes["comments"] = comments["result"]
    return codes


@pytest.fixture
def workspace(sandbox_factory: SandboxFactory) -> SandboxProcess:
    """Two exportable licences (the main one, and one extra with one project)."""
    return sandbox_factory(projects=2, issues_per_project=3, comments_per_issue=1, extra_licences=1)


def test_a_licence_below_role_4_lists_its_role_and_refuses_its_licence_routes(
    workspace: SandboxProcess,
) -> None:
    token = workspace.access_token()
    main, frozen, no_api, extra = workspace.catalog()["licenses"]
    assert set(roles(workspace, token).values()) == {4}

    reply = post_permissions(workspace, {"license_uuid": extra["uuid"], "role": 3})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"license_roles": {extra["uuid"]: 3}, "closed_projects": []}

    assert roles(workspace, token) == {
        main["uuid"]: 4,
        frozen["uuid"]: 4,
        no_api["uuid"]: 4,
        extra["uuid"]: 3,
    }
    for route in LICENCE_ROUTES:
        body = workspace.get(route.format(uuid=extra["uuid"]), token).json()
        assert (body["result"], body["message"], body["data"]) == (
            -20,
            "Not enough rights",
            None,
        ), route
        assert result(workspace, route.format(uuid=main["uuid"]), token) == 0, route
    # The role governs the licence's own routes; its projects stay readable (the caller
    # may still be in their teams): project access is the other switch.
    (project,) = extra["projects"]
    assert result(workspace, f"/v5/project/{project['uuid']}/issue-filter/filter", token) == 0


def test_a_closed_project_refuses_every_data_route_and_the_others_answer(
    workspace: SandboxProcess,
) -> None:
    token = workspace.access_token()
    licence = workspace.catalog()["licenses"][0]
    closed, other = licence["projects"]
    issue_uuid = {
        project["uuid"]: workspace.data(
            f"/v5/project/{project['uuid']}/issue-filter/filter", token
        )["data"][0]["uuid"]
        for project in (closed, other)
    }
    assert set(project_results(workspace, token, closed, issue_uuid[closed["uuid"]]).values()) == {
        0
    }

    # Any spelling of the uuid finds the project; the reply names it as Revizto spells it.
    undashed = closed["uuid"].replace("-", "").upper()
    reply = post_permissions(workspace, {"project_uuid": undashed, "access": False})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"license_roles": {}, "closed_projects": [closed["uuid"]]}

    refused = project_results(workspace, token, closed, issue_uuid[closed["uuid"]])
    assert refused == dict.fromkeys(refused, -20)
    assert set(project_results(workspace, token, other, issue_uuid[other["uuid"]]).values()) == {0}
    # Listing it is not reading it: the licence's project list still names it.
    listed = workspace.data(f"/v5/license/{licence['uuid']}/projects", token)["entities"]
    assert closed["uuid"] in {p["uuid"] for p in listed}

    reply = post_permissions(workspace, {"project_uuid": closed["uuid"], "access": True})
    assert reply.json() == DEFAULTS
    reopened = project_results(workspace, token, closed, issue_uuid[closed["uuid"]])
    assert set(reopened.values()) == {0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not an object", "body"),
        ([{"license_uuid": "x", "role": 3}], "body"),
        ({}, "project_uuid"),
        ({"license_uuid": "{licence}"}, "role"),
        ({"license_uuid": "{licence}", "role": "3"}, "role"),
        ({"license_uuid": "{licence}", "role": True}, "role"),
        ({"license_uuid": "{licence}", "role": 0}, "role"),
        ({"license_uuid": "{licence}", "role": 5}, "role"),
        ({"license_uuid": "{licence}", "role": 3, "access": False}, "access"),
        ({"license_uuid": 42, "role": 3}, "license_uuid"),
        ({"project_uuid": "{project}"}, "access"),
        ({"project_uuid": "{project}", "access": "no"}, "access"),
        ({"project_uuid": "{project}", "access": 0}, "access"),
        ({"project_uuid": "{project}", "access": False, "role": 3}, "role"),
        ({"project_uuid": "", "access": False}, "project_uuid"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field_and_changes_nothing(
    workspace: SandboxProcess, body: Any, field: str
) -> None:
    licence = workspace.catalog()["licenses"][0]
    names = {"{licence}": licence["uuid"], "{project}": licence["projects"][0]["uuid"]}
    if isinstance(body, dict):
        body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    reply = post_permissions(workspace, body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == field
    assert permissions(workspace) == DEFAULTS


def test_a_body_that_is_not_json_or_names_nothing_known_is_refused(
    workspace: SandboxProcess,
) -> None:
    reply = requests.post(
        workspace.url("/_sandbox/permissions"),
        data="license_uuid=x&role=3",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT_S,
    )
    assert (reply.status_code, reply.json()["field"]) == (400, "body")
    unknown = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    reply = post_permissions(workspace, {"license_uuid": unknown, "role": 3})
    assert (reply.status_code, reply.json()["field"]) == (404, "license_uuid")
    reply = post_permissions(workspace, {"project_uuid": unknown, "access": False})
    assert (reply.status_code, reply.json()["field"]) == (404, "project_uuid")
    assert permissions(workspace) == DEFAULTS


def test_reset_permissions_restores_every_licence_and_project(workspace: SandboxProcess) -> None:
    token = workspace.access_token()
    licences = workspace.catalog()["licenses"]
    main, extra = licences[0], licences[3]
    project = main["projects"][0]
    issues = f"/v5/project/{project['uuid']}/issue-filter/filter"
    assert post_permissions(workspace, {"license_uuid": main["uuid"], "role": 1}).ok
    assert post_permissions(workspace, {"license_uuid": extra["uuid"], "role": 2}).ok
    assert post_permissions(workspace, {"project_uuid": project["uuid"], "access": False}).ok
    assert permissions(workspace) == {
        "license_roles": {main["uuid"]: 1, extra["uuid"]: 2},
        "closed_projects": [project["uuid"]],
    }
    assert result(workspace, f"/v5/license/{main['uuid']}/team", token) == -20
    assert result(workspace, issues, token) == -20

    # Role 4 restores one licence on its own...
    reply = post_permissions(workspace, {"license_uuid": extra["uuid"], "role": 4})
    assert reply.json()["license_roles"] == {main["uuid"]: 1}
    # ...and the reset restores everything.
    reply = requests.post(workspace.url("/_sandbox/reset-permissions"), timeout=TIMEOUT_S)
    assert (reply.status_code, reply.json()) == (200, DEFAULTS)
    assert set(roles(workspace, token).values()) == {4}
    assert result(workspace, f"/v5/license/{main['uuid']}/team", token) == 0
    assert result(workspace, issues, token) == 0
