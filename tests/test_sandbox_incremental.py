"""The sandbox's incremental-export controls: deleting issues and adding comments "now",
seen through the data endpoints an exporter reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.sandbox import TIMEOUT_S, SandboxFactory, SandboxProcess
from tests.support.waiting import wait_until

ISSUES = 250
WORKSPACE = {"seed": 11, "projects": 1, "issues_per_project": ISSUES}
BIG_PROJECT_ISSUES = 100_000
MAX_RSS_KIB = 300 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
ADDED_TEXT = "Added by the sandbox"
EDIT_ROUTES = ("/_sandbox/delete-issues", "/_sandbox/add-comments")


@pytest.fixture
def workspace(sandbox_factory: SandboxFactory) -> SandboxProcess:
    """A fresh sandbox per test: every test here edits its issues."""
    return sandbox_factory(**WORKSPACE)


@pytest.fixture
def token(workspace: SandboxProcess) -> str:
    return workspace.access_token()


@pytest.fixture
def project(workspace: SandboxProcess) -> dict[str, Any]:
    first: dict[str, Any] = workspace.catalog()["licenses"][0]["projects"][0]
    return first


def _issues(sandbox: SandboxProcess, token: str, project: dict[str, Any], **params: Any) -> Any:
    return sandbox.data(f"/v5/project/{project['uuid']}/issue-filter/filter", token, **params)


def _deleted(sandbox: SandboxProcess, token: str, project: dict[str, Any], **params: Any) -> Any:
    path = f"/v5/project/{project['uuid']}/issue-filter/filter_deleted"
    return sandbox.data(path, token, limit=1000, **params)


def _every_issue(
    sandbox: SandboxProcess, token: str, project: dict[str, Any]
) -> list[dict[str, Any]]:
    """All live issues, read page by page with limit=100 as an exporter does."""
    first = _issues(sandbox, token, project, page=0, limit=100)
    pages = [first] + [
        _issues(sandbox, token, project, page=page, limit=100) for page in range(1, first["pages"])
    ]
    return [issue for page in pages for issue in page["data"]]


def _comments(
    sandbox: SandboxProcess, token: str, project: dict[str, Any], issue_uuid: str, **params: Any
) -> dict[str, Any]:
    """Every comment on one page (limit 1000), as the whole envelope."""
    return sandbox.comments_reply(token, issue_uuid, project["id"], **{"limit": 1000, **params})


def _one_second_after(stamp: str) -> str:
    moment = datetime.strptime(stamp, TIMESTAMP_FORMAT) + timedelta(seconds=1)
    return moment.strftime(TIMESTAMP_FORMAT)


def _wait_for_the_clock_to_pass(
    sandbox: SandboxProcess, token: str, project: dict[str, Any], stamp: str
) -> None:
    """Until the sandbox's own clock (its `synchronized`) is past `stamp`: at most ~1 s."""
    wait_until(
        lambda: _issues(sandbox, token, project, limit=1)["synchronized"] > stamp,
        timeout=5,
        what=f"sandbox clock past {stamp}",
    )


def _post(sandbox: SandboxProcess, route: str, body: Any) -> requests.Response:
    return requests.post(sandbox.url(route), json=body, timeout=TIMEOUT_S)


# --- deleting issues -----------------------------------------------------------------------


def test_deleted_issues_leave_every_page_the_count_and_the_synchronized_filter(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    before = [issue["id"] for issue in _every_issue(workspace, token, project)]
    assert before == list(range(1, ISSUES + 1))
    touched_at = workspace.touch_issues(project["uuid"], [7])
    workspace.delete_issues(project["uuid"], [5, 7, 100, ISSUES])
    remaining = [i for i in before if i not in {5, 7, 100, ISSUES}]

    first = _issues(workspace, token, project, page=0, limit=100)
    assert (first["count"], first["pages"]) == (ISSUES - 4, 3)
    assert [issue["id"] for issue in _every_issue(workspace, token, project)] == remaining
    everything = _issues(workspace, token, project, synchronized="2000-01-01", limit=1000)
    assert [issue["id"] for issue in everything["data"]] == remaining
    assert everything["count"] == ISSUES - 4
    # Issue 7 was touched just before its deletion: its touch must not bring it back.
    recent = _issues(workspace, token, project, synchronized=touched_at, limit=1000)
    assert (recent["count"], recent["data"]) == (0, [])


def test_deleted_issues_appear_in_filter_deleted_rendered_as_they_were_listed(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    listed = {issue["id"]: issue for issue in _every_issue(workspace, token, project)}
    originally = _deleted(workspace, token, project)
    assert originally["count"] == project["deleted_issues"] >= 1

    deleted_at = workspace.delete_issues(project["uuid"], [9, 2])
    deleted = _deleted(workspace, token, project)
    assert deleted["count"] == originally["count"] + 2
    assert [issue["id"] for issue in deleted["data"]] == [2, 9] + [
        issue["id"] for issue in originally["data"]
    ]
    for issue in deleted["data"][:2]:
        assert issue["deletedAt"] == {"value": deleted_at, "timestamp": deleted_at}
        assert issue["updated"] == deleted_at
        unchanged = {k: v for k, v in issue.items() if k not in ("deletedAt", "updated")}
        was = listed[issue["id"]]
        assert unchanged == {k: v for k, v in was.items() if k not in ("deletedAt", "updated")}
    assert deleted["data"][2:] == originally["data"]

    # Deleting is once: with the clock moved on, the deletion time reads the same.
    _wait_for_the_clock_to_pass(workspace, token, project, deleted_at)
    assert _deleted(workspace, token, project)["data"] == deleted["data"]


def test_filter_deleted_synchronized_finds_deletions_at_or_after_it_only(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    watermark = _deleted(workspace, token, project)["synchronized"]
    assert _deleted(workspace, token, project, synchronized=watermark)["count"] == 0

    deleted_at = workspace.delete_issues(project["uuid"], [3, 4])
    assert deleted_at >= watermark
    since_watermark = _deleted(workspace, token, project, synchronized=watermark)
    assert [issue["id"] for issue in since_watermark["data"]] == [3, 4]
    assert _deleted(workspace, token, project, synchronized=deleted_at)["count"] == 2
    later = _deleted(workspace, token, project, synchronized=_one_second_after(deleted_at))
    assert (later["count"], later["data"]) == (0, [])


def test_a_deleted_issue_is_unknown_to_comments_and_to_every_edit_route(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    issue, bystander = _issues(workspace, token, project, limit=2)["data"]
    assert _comments(workspace, token, project, issue["uuid"])["result"] == 0
    workspace.delete_issues(project["uuid"], [issue["id"]])

    made_up = _comments(workspace, token, project, "0" * 32)
    assert made_up["result"] == -12
    assert _comments(workspace, token, project, issue["uuid"]) == made_up
    for route in ("/_sandbox/delete-issues", "/_sandbox/add-comments", "/_sandbox/touch-issues"):
        body = {"project_uuid": project["uuid"], "ids": [bystander["id"], issue["id"]]}
        reply = _post(workspace, route, body)
        assert (reply.status_code, reply.json()["field"]) == (400, "ids"), route
        assert f"[{issue['id']}]" in reply.json()["error"], route
    # A refused request changes nothing, not even the live issue it also named.
    after = _issues(workspace, token, project, limit=1000)
    assert (after["count"], after["data"][0]) == (ISSUES - 1, bystander)


# --- adding comments -----------------------------------------------------------------------


def test_added_comments_are_served_last_and_respect_the_date_filter(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    listing = _issues(workspace, token, project, limit=1000)
    issue = next(i for i in listing["data"] if i["comments"] >= 2)
    generated = _comments(workspace, token, project, issue["uuid"])["data"]["data"]
    assert len(generated) == issue["comments"]

    first = workspace.add_comments(project["uuid"], [issue["id"]])
    second = workspace.add_comments(project["uuid"], [issue["id"]])
    served = _comments(workspace, token, project, issue["uuid"])["data"]
    assert served["count"] == len(served["data"]) == issue["comments"] + 2
    assert served["data"][:-2] == generated
    added = served["data"][-2:]
    assert [c["created"] for c in added] == [first, second]
    team = workspace.data(f"/v5/project/{project['uuid']}/team", token)["entities"]
    for comment in added:
        assert (comment["type"], comment["text"]) == ("text", ADDED_TEXT)
        assert set(comment) == {"uuid", "type", "created", "author", "reporter", "text"}
        assert comment["reporter"] == comment["author"]["email"]
        assert set(comment["author"]) == {"firstname", "lastname", "email"}
        assert comment["author"]["email"] in {member["email"] for member in team}
    uuids = {c["uuid"] for c in served["data"]}
    assert len(uuids) == len(served["data"])

    # `date` keeps comments created on or after it: the generated ones are years older.
    recent = _comments(workspace, token, project, issue["uuid"], date=first)["data"]
    assert (recent["count"], recent["data"]) == (2, added)
    later = _comments(workspace, token, project, issue["uuid"], date=_one_second_after(second))
    assert later["data"]["count"] == 0


def test_a_commented_issue_is_listed_again_after_the_watermark_with_its_new_count(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    before = _issues(workspace, token, project, limit=1000)
    watermark = before["synchronized"]
    assert _issues(workspace, token, project, synchronized=watermark)["count"] == 0
    original = {issue["id"]: issue for issue in before["data"]}

    created = workspace.add_comments(project["uuid"], [12, 40, 12])
    assert created >= watermark
    after = _issues(workspace, token, project, synchronized=watermark)
    assert [issue["id"] for issue in after["data"]] == [12, 40]
    for issue in after["data"]:
        added = 2 if issue["id"] == 12 else 1
        assert issue["comments"] == original[issue["id"]]["comments"] + added
        assert (issue["updated"], issue["commented"]) == (created, created)
        assert issue["version"] == original[issue["id"]]["version"] + added
    assert _comments(workspace, token, project, original[12]["uuid"])["data"]["count"] == (
        original[12]["comments"] + 2
    )


def test_the_catalog_keeps_matching_the_data_endpoints_after_edits(
    workspace: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    listed = {
        issue["id"]: issue for issue in _issues(workspace, token, project, limit=1000)["data"]
    }
    chatty = [i for i, issue in listed.items() if issue["comments"]][:3]
    workspace.add_comments(project["uuid"], [chatty[0], chatty[1], 30])
    workspace.delete_issues(project["uuid"], [chatty[0], chatty[2]])

    (catalogued,) = workspace.catalog()["licenses"][0]["projects"][:1]
    issues = _issues(workspace, token, project, limit=1000)
    deleted = _deleted(workspace, token, project)
    assert catalogued["issues"] == issues["count"] == len(issues["data"]) == ISSUES - 2
    assert catalogued["deleted_issues"] == deleted["count"] == project["deleted_issues"] + 2
    assert catalogued["comments"] == sum(issue["comments"] for issue in issues["data"])
    gone = listed[chatty[0]]["comments"] + listed[chatty[2]]["comments"]
    assert catalogued["comments"] == project["comments"] - gone + 2


# --- bad requests --------------------------------------------------------------------------


@pytest.mark.parametrize("route", EDIT_ROUTES)
def test_bad_bodies_are_refused_naming_the_field(
    workspace: SandboxProcess, project: dict[str, Any], route: str
) -> None:
    cases: list[tuple[Any, int, str]] = [
        (["not", "an", "object"], 400, "body"),
        ({"ids": [1]}, 400, "project_uuid"),
        ({"project_uuid": True, "ids": [1]}, 400, "project_uuid"),
        ({"project_uuid": "0" * 32, "ids": [1]}, 404, "project_uuid"),
        ({"project_uuid": project["uuid"]}, 400, "ids"),
        ({"project_uuid": project["uuid"], "ids": "1"}, 400, "ids"),
        ({"project_uuid": project["uuid"], "ids": [1, "2"]}, 400, "ids"),
        ({"project_uuid": project["uuid"], "ids": [True]}, 400, "ids"),
        ({"project_uuid": project["uuid"], "ids": [1, 10**6]}, 400, "ids"),
    ]
    for body, status, field in cases:
        reply = _post(workspace, route, body)
        assert (reply.status_code, reply.json()["field"]) == (status, field), body
    unknown = _post(workspace, route, {"project_uuid": project["id"], "ids": [10**6, ISSUES + 1]})
    assert f"[{10**6}, {ISSUES + 1}]" in unknown.json()["error"]
    # Nothing above may have changed the project.
    assert workspace.catalog()["licenses"][0]["projects"][0] == project


# --- captured projects and scale -----------------------------------------------------------


def test_captured_projects_delete_and_comment_without_changing_other_issues(
    sandbox_factory: SandboxFactory, real_issues_fixture: Path
) -> None:
    sandbox = sandbox_factory(projects=1, fixtures=real_issues_fixture)
    token = sandbox.access_token()
    projects = sandbox.catalog()["licenses"][0]["projects"]
    project = next(p for p in projects if p["source"] == "fixture" and p["issues"] >= 3)
    before = _issues(sandbox, token, project, limit=1000)["data"]
    gone, commented = before[0], before[1]

    deleted_at = sandbox.delete_issues(project["id"], [gone["id"]])
    created = sandbox.add_comments(project["uuid"], [commented["id"]])
    after = _issues(sandbox, token, project, limit=1000)["data"]
    assert [issue["id"] for issue in after] == [issue["id"] for issue in before[1:]]
    assert after[1:] == before[2:]
    assert after[0]["comments"] == commented["comments"] + 1
    assert (after[0]["updated"], after[0]["commented"]) == (created, created)

    (deleted,) = _deleted(sandbox, token, project)["data"]
    assert deleted == {
        **gone,
        "updated": deleted_at,
        "deletedAt": {"value": deleted_at, "timestamp": deleted_at},
    }
    assert _comments(sandbox, token, project, gone["uuid"])["result"] == -12
    served = _comments(sandbox, token, project, commented["uuid"])["data"]
    assert served["count"] == commented["comments"] + 1
    assert (served["data"][-1]["created"], served["data"][-1]["text"]) == (created, ADDED_TEXT)
    catalogued = {p["uuid"]: p for p in sandbox.catalog()["licenses"][0]["projects"]}
    assert catalogued[project["uuid"]] == {
        **project,
        "issues": project["issues"] - 1,
        "deleted_issues": project["deleted_issues"] + 1,
        "comments": project["comments"] - gone["comments"] + 1,
    }


def test_deleting_from_a_100000_issue_project_keeps_pages_exact_in_little_memory(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=BIG_PROJECT_ISSUES)
    token = sandbox.access_token()
    project = sandbox.catalog()["licenses"][0]["projects"][0]
    sandbox.delete_issues(project["uuid"], [50_000, BIG_PROJECT_ISSUES])
    late = _issues(sandbox, token, project, page=999, limit=100)
    assert (late["count"], late["pages"]) == (BIG_PROJECT_ISSUES - 2, 1000)
    assert [issue["id"] for issue in late["data"]] == list(range(99_902, BIG_PROJECT_ISSUES))
    middle = _issues(sandbox, token, project, page=499, limit=100)["data"]
    assert [issue["id"] for issue in middle] == [*range(49_901, 50_000), 50_001]
    assert sandbox.rss_kib() < MAX_RSS_KIB
