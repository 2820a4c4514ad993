"""The sandbox's data endpoints over real HTTP: shapes, paging, determinism, captured issues."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sandbox import SandboxFactory, SandboxProcess

SEED = 7
ISSUES = 1050
WORKSPACE = {"seed": SEED, "projects": 3, "issues_per_project": ISSUES, "archived_projects": 1}
# The key set of real captured issues (docs/revizto-api.md §4.6); optional ones are missing
# from some issues.
REAL_ISSUE_KEYS = {
    "uuid", "id", "author", "binding", "commented", "comments", "unread", "type", "updated",
    "version", "status", "assignee", "backgroundType", "bind3d", "camera", "cdeLinks", "clashes",
    "colorSelection", "compareSheet", "created", "customStatus", "customType", "deadline",
    "defaultSheet", "deletedAt", "internalProperties", "markup", "phaseSelection", "pin",
    "positionProperties", "priority", "procore", "rClashes", "reporter", "sectioncuts",
    "selectionNames", "selections", "sheet", "stampAbbr", "stampColor", "stampScale",
    "statusAuto", "tags", "title", "visibility", "visibilitySelection", "visualOperations",
    "watchers", "openLinks",
}  # fmt: skip
OPTIONAL_ISSUE_KEYS = {"preview", "snapshot", "customStatusName", "customTypeName"}
SCALAR_KEYS = {
    "uuid", "id", "author", "binding", "commented", "comments", "unread", "type", "updated",
    "version", "openLinks", "preview", "customStatusName", "customTypeName",
}  # fmt: skip
UNDASHED = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox for the read-only tests of this module: 3 projects of 1,050 issues."""
    process = SandboxProcess(tmp_path_factory.mktemp("workspace"), **WORKSPACE)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def token(workspace: SandboxProcess) -> str:
    return workspace.access_token()


@pytest.fixture(scope="module")
def catalog(workspace: SandboxProcess) -> dict[str, Any]:
    return workspace.catalog()


@pytest.fixture(scope="module")
def main_projects(catalog: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in catalog["licenses"][0]["projects"] if p["source"] == "generated"]


@pytest.fixture(scope="module")
def all_issues(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every live issue of the first project, read with limit=100."""
    pages = [
        workspace.data(_issues_path(main_projects[0]), token, page=page, limit=100)
        for page in range(11)
    ]
    return [issue for page in pages for issue in page["data"]]


def _issues_path(project: dict[str, Any], suffix: str = "filter") -> str:
    return f"/v5/project/{project['uuid']}/issue-filter/{suffix}"


def _comments(
    sandbox: SandboxProcess, token: str, issue_uuid: str, project_id: Any, **params: Any
) -> dict[str, Any]:
    return sandbox.comments_reply(token, issue_uuid, project_id, **params)


# --- paging -------------------------------------------------------------------------------------


def test_1050_issues_read_with_limit_100_take_11_pages_with_no_gap_or_repeat(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    first = workspace.data(_issues_path(main_projects[0]), token, page=0, limit=100)
    assert (first["count"], first["pages"], first["limit"], first["page"]) == (ISSUES, 11, 100, 0)
    ids = []
    for page in range(first["pages"]):
        data = workspace.data(_issues_path(main_projects[0]), token, page=page, limit=100)
        ids += [issue["id"] for issue in data["data"]]
    assert ids == list(range(1, ISSUES + 1))


def test_page_past_the_end_is_empty_with_the_same_count_and_pages(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    data = workspace.data(_issues_path(main_projects[0]), token, page=11, limit=100)
    assert data["data"] == []
    assert (data["count"], data["pages"], data["page"]) == (ISSUES, 11, 11)


def test_issue_limit_defaults_to_100_and_is_clamped_at_1000(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    default = workspace.data(_issues_path(main_projects[0]), token)
    clamped = workspace.data(_issues_path(main_projects[0]), token, limit=5000)
    assert (default["limit"], len(default["data"])) == (100, 100)
    assert (clamped["limit"], clamped["pages"], len(clamped["data"])) == (1000, 2, 1000)


def test_bad_paging_parameters_answer_a_result_error_naming_the_field(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    body = workspace.get(_issues_path(main_projects[0]), token, page="x").json()
    assert body["result"] < 0
    assert body["data"] == {"fields": ["page"]}


def test_synchronized_is_the_servers_current_time(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    data = workspace.data(_issues_path(main_projects[0]), token, limit=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", data["synchronized"])
    assert data["synchronized"] > "2026-01-01"


def test_issue_filter_takes_the_numeric_project_id_too(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    project = main_projects[0]
    by_uuid = workspace.data(_issues_path(project), token, limit=5)["data"]
    by_id = workspace.data(f"/v5/project/{project['id']}/issue-filter/filter", token, limit=5)[
        "data"
    ]
    assert by_id == by_uuid


# --- determinism ----------------------------------------------------------------------------------


def test_the_same_seed_serves_identical_issues_and_comments(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    sandbox_factory: SandboxFactory,
) -> None:
    twin = sandbox_factory(**WORKSPACE)
    twin_token = twin.access_token()
    assert twin.catalog() == workspace.catalog()
    for project in main_projects:
        ours = workspace.data(_issues_path(project), token, page=3, limit=200)["data"]
        theirs = twin.data(_issues_path(project), twin_token, page=3, limit=200)["data"]
        assert ours == theirs
    for issue in ours[:20]:
        mine = _comments(workspace, token, issue["uuid"], main_projects[-1]["id"])["data"]["data"]
        twins = _comments(twin, twin_token, issue["uuid"], main_projects[-1]["id"])["data"]["data"]
        assert mine == twins


def test_a_different_seed_serves_different_issues(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    sandbox_factory: SandboxFactory,
) -> None:
    other = sandbox_factory(**{**WORKSPACE, "seed": SEED + 1})
    other_project = other.catalog()["licenses"][0]["projects"][0]
    ours = workspace.data(_issues_path(main_projects[0]), token, limit=10)["data"]
    theirs = other.data(_issues_path(other_project), other.access_token(), limit=10)["data"]
    assert [i["uuid"] for i in ours] != [i["uuid"] for i in theirs]


# --- licences and projects ------------------------------------------------------------------------


def test_licences_include_a_frozen_one_and_one_without_api_access(
    workspace: SandboxProcess, token: str
) -> None:
    data = workspace.data("/v5/user/licenses", token)
    licences = data["entities"]
    assert data["count"] == len(licences) == 3
    main, frozen, no_api = licences
    assert (main["frozen"], main["licenseOptions"]["allowApiAccess"]) == (False, True)
    assert (frozen["frozen"], frozen["frozenReason"]) == (True, -51)
    assert no_api["licenseOptions"]["allowApiAccess"] is False
    for licence in licences:
        assert {
            "id",
            "uuid",
            "name",
            "expires",
            "created",
            "region",
            "type",
            "licenseClass",
        } <= set(licence)
        assert {"role", "owner", "licenseOptions"} <= set(licence)
        assert licence["region"] == "us-east-1"


def test_projects_of_frozen_and_no_api_licences_answer_minus_204(
    workspace: SandboxProcess, token: str, catalog: dict[str, Any]
) -> None:
    for licence in catalog["licenses"][1:]:
        (project,) = licence["projects"]
        for path in ("issue-filter/filter", "team", "issue-workflow/settings", "sheet/list"):
            body = workspace.get(f"/v5/project/{project['uuid']}/{path}", token).json()
            assert body["result"] == -204, path
        issue_page = workspace.get(
            f"/v5/issue/{'0' * 32}/comments/date", token, projectId=project["id"]
        ).json()
        assert issue_page["result"] == -204


def test_project_lists_come_unpaged_and_paged_with_the_same_projects(
    workspace: SandboxProcess, token: str, catalog: dict[str, Any]
) -> None:
    licence = catalog["licenses"][0]
    unpaged = workspace.data(f"/v5/license/{licence['uuid']}/projects", token)
    paged = workspace.data(f"/v5/project/list/{licence['uuid']}/paged", token, page=0)
    small = workspace.data(f"/v5/project/list/{licence['uuid']}/paged", token, page=1, limit=2)
    assert unpaged["count"] == len(unpaged["entities"]) == len(licence["projects"])
    assert (paged["limit"], paged["pages"], paged["count"]) == (24, 1, unpaged["count"])
    assert [p["uuid"] for p in paged["data"]] == [p["uuid"] for p in unpaged["entities"]]
    assert small["data"] == unpaged["entities"][2:4]
    project = unpaged["entities"][0]
    assert re.fullmatch(r"\d{6}", str(project["id"]))
    expected = {"id", "uuid", "title", "description", "created", "updated", "archived", "frozen"}
    assert expected | {"owner", "region", "license_id", "previewImages", "abbreviate"} <= set(
        project
    )
    assert any(p["previewImages"] == [] for p in unpaged["entities"])
    assert any(p["abbreviate"] is None for p in unpaged["entities"])


def test_only_the_last_k_generated_projects_are_archived(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    catalog: dict[str, Any],
) -> None:
    assert [p["archived"] for p in main_projects] == [False, False, True]
    listed = workspace.data(f"/v5/license/{catalog['licenses'][0]['uuid']}/projects", token)
    assert [p["archived"] for p in listed["entities"]] == [False, False, True]


def test_unknown_licence_or_project_answers_minus_12(workspace: SandboxProcess, token: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/v5/license/{missing}/team", f"/v5/project/{missing}/issue-filter/filter"):
        reply = workspace.get(path, token)
        assert (reply.status_code, reply.json()["result"]) == (200, -12)


def test_unknown_path_is_a_json_404(workspace: SandboxProcess, token: str) -> None:
    reply = workspace.get("/v5/licences", token)
    assert reply.status_code == 404
    assert reply.json() == {"result": -1, "data": None, "message": "Not found"}


def test_teams_workflow_presets_and_sheets_have_the_documented_shapes(
    workspace: SandboxProcess,
    token: str,
    catalog: dict[str, Any],
    main_projects: list[dict[str, Any]],
) -> None:
    licence_uuid = catalog["licenses"][0]["uuid"]
    project = f"/v5/project/{main_projects[0]['uuid']}"
    user = workspace.data("/v5/user", token)
    assert {"id", "uuid", "email", "firstname", "lastname", "fullname"} <= set(user)

    active = workspace.data(f"/v5/license/{licence_uuid}/team", token)
    everyone = workspace.data(f"/v5/license/{licence_uuid}/team", token, withDeactivated="true")
    assert everyone["count"] == active["count"] + 1
    member = active["entities"][0]
    assert {"uuid", "role", "user", "company", "department", "location"} <= set(member)
    assert member["uuid"] != member["user"]["uuid"]

    team = workspace.data(f"{project}/team", token)
    assert {"id", "uuid", "email", "fullname", "role", "accessRole", "member"} <= set(
        team["entities"][0]
    )

    settings = workspace.data(f"{project}/issue-workflow/settings", token)
    assert {s["category"] for s in settings["statuses"]} == {"To do", "Tracking", "Completed"}
    assert {"uuid", "name", "isDefault", "isActive", "deletedAt", "workflowUuid"} <= set(
        settings["types"][0]
    )
    assert {"uuid", "name", "isStandard", "statuses", "deletedAt"} <= set(settings["workflows"][0])

    sheets = workspace.data(f"{project}/sheet/list", token)["entities"]
    expected = {
        "uuid",
        "title",
        "description",
        "sheetNumber",
        "sheetVersion",
        "isDeleted",
        "isLast",
    }
    assert expected | {"path", "lastSynced", "reviztoRevisionNumber"} <= set(sheets[0])


def test_stamp_presets_carry_fields_as_a_json_string(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    path = f"/v5/project/{main_projects[0]['uuid']}/issue-preset/list"
    presets = workspace.data(path, token, page=0)
    assert presets["count"] == len(presets["entities"])
    assert workspace.data(path, token, page=1)["entities"] == []
    assert {p["nodeRole"] for p in presets["entities"]} == {1, 2}
    templates = [p for p in presets["entities"] if p["nodeRole"] == 1]
    fields = [json.loads(t["fields"]) for t in templates]
    assert all(isinstance(t["fields"], str) for t in templates)
    assert all({"stampAbbr", "stampColor", "customType"} <= set(f) for f in fields)
    abbreviations = {f["stampAbbr"] for f in fields}
    used = {i["stampAbbr"]["value"] for i in all_issues} - {None}
    assert used
    assert used <= abbreviations


# --- issue objects ---------------------------------------------------------------------------


def test_issues_have_the_real_key_set_and_value_timestamp_pairs(
    all_issues: list[dict[str, Any]],
) -> None:
    for issue in all_issues:
        keys = set(issue)
        assert REAL_ISSUE_KEYS <= keys <= REAL_ISSUE_KEYS | OPTIONAL_ISSUE_KEYS, issue["id"]
        for key in keys - SCALAR_KEYS:
            assert set(issue[key]) == {"value", "timestamp"}, key
    assert any("preview" not in i and "snapshot" not in i for i in all_issues)
    assert any("customStatusName" not in i for i in all_issues)
    assert any("customStatusName" in i for i in all_issues)
    assert {i["type"] for i in all_issues} == {1, 3}
    assert any(i["deadline"]["value"] == "2000-01-01 00:00:00" for i in all_issues)
    issue = all_issues[0]
    assert issue["openLinks"]["desktop"].startswith("revizto5://viewer/")
    assert issue["openLinks"]["desktop"].endswith(f"/issue_tracker/{issue['id']}")


def test_issue_status_and_type_come_from_the_workflow_settings(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    settings = workspace.data(
        f"/v5/project/{main_projects[0]['uuid']}/issue-workflow/settings", token
    )
    statuses = {s["uuid"]: s["name"] for s in settings["statuses"]}
    types = {t["uuid"]: t["name"] for t in settings["types"]}
    for issue in all_issues:
        assert issue["customStatus"]["value"] in statuses
        assert issue["customType"]["value"] in types
        if "customStatusName" in issue:
            assert issue["customStatusName"] == statuses[issue["customStatus"]["value"]]
        assert issue["status"]["value"] in {"open", "in_progress", "solved", "closed"}


def test_empty_sheet_and_markup_values_serialise_as_empty_lists(
    all_issues: list[dict[str, Any]],
) -> None:
    for field in ("sheet", "markup"):
        values = [issue[field]["value"] for issue in all_issues]
        assert [] in values
        assert any(isinstance(value, dict) for value in values)
    assert all(issue["defaultSheet"]["value"] == [] for issue in all_issues)


def test_titles_carry_commas_quotes_newlines_and_non_ascii(
    all_issues: list[dict[str, Any]],
) -> None:
    titles = [issue["title"]["value"] for issue in all_issues]
    assert any("," in t for t in titles)
    assert any('"' in t for t in titles)
    assert any("\n" in t for t in titles)
    assert any(not t.isascii() for t in titles)


def test_undashed_legacy_uuids_occur_and_resolve_in_any_form(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    undashed_issue = next(i for i in all_issues if UNDASHED.match(i["uuid"]))
    project_id = main_projects[0]["id"]
    raw = undashed_issue["uuid"]
    dashed = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    served = [
        _comments(workspace, token, form, project_id)["data"]["count"]
        for form in (raw, dashed, raw.upper())
    ]
    assert served == [undashed_issue["comments"]] * 3

    legacy_project = next(p for p in main_projects if UNDASHED.match(p["uuid"]))
    raw = legacy_project["uuid"]
    for form in (raw, f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}".upper()):
        assert (
            workspace.data(f"/v5/project/{form}/issue-filter/filter", token, limit=1)["count"]
            == ISSUES
        )


def test_deleted_issues_come_only_from_filter_deleted(
    workspace: SandboxProcess, token: str, main_projects: list[dict[str, Any]]
) -> None:
    project = main_projects[0]
    deleted = workspace.data(_issues_path(project, "filter_deleted"), token)
    assert deleted["count"] == len(deleted["data"]) == project["deleted_issues"] > 0
    for issue in deleted["data"]:
        assert issue["deletedAt"]["value"] is not None
        assert issue["id"] > ISSUES


# --- comments ------------------------------------------------------------------------------------


def test_every_issues_comment_count_matches_the_comments_served(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    assert sum(issue["comments"] for issue in all_issues) == main_projects[0]["comments"]
    for issue in all_issues[:80]:
        served = _comments(workspace, token, issue["uuid"], main_projects[0]["id"])["data"]
        assert served["count"] == len(served["data"]) == issue["comments"]
        if issue["comments"]:
            assert served["data"][-1]["created"] == issue["commented"]
        else:
            assert issue["commented"] == "2000-01-01 00:00:00"


def test_comments_need_the_numeric_project_id(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    issue = all_issues[0]
    project = main_projects[0]
    assert _comments(workspace, token, issue["uuid"], project["id"])["result"] == 0
    for wrong in (project["uuid"], main_projects[1]["id"], "", "12x"):
        body = _comments(workspace, token, issue["uuid"], wrong)
        assert (body["result"], body["message"]) == (-12, "Entity does not exist"), wrong
    reply = workspace.get(f"/v5/issue/{issue['uuid']}/comments/date", token, date="2000-01-01")
    assert reply.json()["result"] == -12


def test_comments_come_in_every_type_with_their_fields(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for issue in all_issues:
        if len(seen) == 4:
            break
        if issue["comments"]:
            served = _comments(workspace, token, issue["uuid"], main_projects[0]["id"])
            for comment in served["data"]["data"]:
                seen.setdefault(comment["type"], comment)
    assert set(seen) == {"text", "file", "markup", "diff"}
    for comment in seen.values():
        assert {"uuid", "type", "created", "author", "reporter"} <= set(comment)
        assert set(comment["author"]) == {"firstname", "lastname", "email"}
    assert isinstance(seen["text"]["text"], str)
    assert {"filename", "mimetype", "preview"} <= set(seen["file"])
    assert set(seen["file"]["preview"]) == {"small", "middle", "original"}
    ((field, change),) = seen["diff"]["diff"].items()
    assert field in {"customStatus", "assignee", "title", "priority", "deadline", "watchers"}
    assert set(change) == {"old", "new"}


def test_comments_are_oldest_first_paged_and_filtered_by_date(
    workspace: SandboxProcess,
    token: str,
    main_projects: list[dict[str, Any]],
    all_issues: list[dict[str, Any]],
) -> None:
    issue = max(all_issues, key=lambda i: i["comments"])
    project_id = main_projects[0]["id"]
    every = _comments(workspace, token, issue["uuid"], project_id)["data"]["data"]
    created = [c["created"] for c in every]
    assert len(created) >= 2
    assert created == sorted(created)
    # Revizto picks the comment page size: a client's `limit` is ignored (§4.7).
    asked_for_one = _comments(workspace, token, issue["uuid"], project_id, limit=1)["data"]
    assert (asked_for_one["limit"], asked_for_one["pages"], asked_for_one["data"]) == (
        100,
        1,
        every,
    )
    later = _comments(workspace, token, issue["uuid"], project_id, date="2100-01-01")["data"]
    assert (later["count"], later["pages"], later["data"]) == (0, 0, [])


# --- captured (real) issues ------------------------------------------------------------------


@pytest.fixture(scope="module")
def captured(
    real_issues_fixture: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SandboxProcess, dict[str, Any]]]:
    """A sandbox serving the real captures, and the capture file's content."""
    process = SandboxProcess(
        tmp_path_factory.mktemp("captured"), projects=1, fixtures=real_issues_fixture
    )
    yield process, json.loads(real_issues_fixture.read_text(encoding="utf-8"))
    process.stop()


def test_every_captured_issue_is_served_unchanged(
    captured: tuple[SandboxProcess, dict[str, Any]],
) -> None:
    sandbox, capture = captured
    token = sandbox.access_token()
    listed = {p["uuid"]: p for p in sandbox.catalog()["licenses"][0]["projects"]}
    for project in capture["projects"]:
        served = sandbox.data(
            f"/v5/project/{project['projectUuid']}/issue-filter/filter", token, limit=1000
        )
        expected = sorted(project["issues"], key=lambda issue: issue["id"])
        assert served["data"] == expected
        assert served["count"] == len(expected)
        desktop = expected[0]["openLinks"]["desktop"]
        assert desktop.startswith(f"revizto5://viewer/{listed[project['projectUuid']]['id']}/")


def test_captured_issues_get_as_many_comments_as_they_claim(
    captured: tuple[SandboxProcess, dict[str, Any]],
) -> None:
    sandbox, capture = captured
    token = sandbox.access_token()
    listed = {p["uuid"]: p for p in sandbox.catalog()["licenses"][0]["projects"]}
    for project in capture["projects"]:
        project_id = listed[project["projectUuid"]]["id"]
        assert listed[project["projectUuid"]]["comments"] == sum(
            i["comments"] for i in project["issues"]
        )
        for issue in project["issues"][:15]:
            served = _comments(sandbox, token, issue["uuid"], project_id)["data"]
            assert served["count"] == len(served["data"]) == issue["comments"]


def test_captured_projects_list_the_statuses_and_types_their_issues_use(
    captured: tuple[SandboxProcess, dict[str, Any]],
) -> None:
    sandbox, capture = captured
    token = sandbox.access_token()
    for project in capture["projects"]:
        settings = sandbox.data(
            f"/v5/project/{project['projectUuid']}/issue-workflow/settings", token
        )
        statuses = {s["uuid"] for s in settings["statuses"]}
        types = {t["uuid"] for t in settings["types"]}
        assert {i["customStatus"]["value"] for i in project["issues"]} <= statuses
        assert {i["customType"]["value"] for i in project["issues"]} <= types
