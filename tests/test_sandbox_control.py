"""The sandbox's control routes: stats, catalog, access codes, touching issues; and its scale."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.support.processes import python_module
from tests.support.sandbox import SandboxFactory, SandboxProcess

# A 100,000-issue project must be served from a few arrays, never materialised.
BIG_PROJECT_ISSUES = 100_000
MAX_RSS_KIB = 300 * 1024


def _issues(sandbox: SandboxProcess, token: str, project: dict[str, Any], **params: Any) -> Any:
    return sandbox.data(f"/v5/project/{project['uuid']}/issue-filter/filter", token, **params)


def _first_project(sandbox: SandboxProcess) -> dict[str, Any]:
    project: dict[str, Any] = sandbox.catalog()["licenses"][0]["projects"][0]
    return project


def test_stats_count_grants_data_requests_and_error_responses(sandbox: SandboxProcess) -> None:
    first = sandbox.exchange_code()
    sandbox.refresh(first["refresh_token"])
    sandbox.refresh(first["refresh_token"])
    token = first["access_token"]
    sandbox.get("/v5/user", token)
    sandbox.get("/v5/user", "garbage")
    sandbox.set_faults(fail_next={"count": 1, "status": 502}, rate_limit_rps=1)
    sandbox.get("/v5/user", token)
    sandbox.get("/v5/user", token)
    sandbox.get("/v5/user", token)
    assert sandbox.stats() == {
        "token_endpoint": {
            "authorization_code": {"ok": 1, "rejected": 0},
            "refresh_token": {"ok": 1, "rejected": 1, "aborted": 0},
            "malformed": 0,
            "requests": 3,
        },
        "data_requests": 5,
        "responses_401": 1,
        "responses_429": 1,
        "responses_5xx": 1,
        "data_in_flight_peak": 1,
        "refresh_tokens_reused": 1,
    }


def test_reset_stats_zeroes_every_counter(sandbox: SandboxProcess) -> None:
    token = sandbox.access_token()
    sandbox.get("/v5/user", token)
    zeroed = sandbox.reset_stats()
    assert zeroed == sandbox.stats()
    assert zeroed["data_requests"] == zeroed["data_in_flight_peak"] == 0
    assert zeroed["token_endpoint"]["authorization_code"] == {"ok": 0, "rejected": 0}


def test_control_routes_are_not_counted_and_need_no_token(sandbox: SandboxProcess) -> None:
    sandbox.catalog()
    sandbox.set_faults()
    assert sandbox.stats()["data_requests"] == 0


def test_access_codes_route_mints_distinct_single_use_codes(sandbox: SandboxProcess) -> None:
    codes = {sandbox.access_code() for _ in range(5)}
    assert len(codes) == 5
    assert all(code.startswith("def50200") for code in codes)


def test_catalog_matches_what_the_data_endpoints_serve(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=40, archived_projects=1, seed=5)
    token = sandbox.access_token()
    catalog = sandbox.catalog()
    licences = sandbox.data("/v5/user/licenses", token)["entities"]
    assert [lic["uuid"] for lic in catalog["licenses"]] == [lic["uuid"] for lic in licences]
    main, frozen, no_api = catalog["licenses"]
    assert (frozen["frozen"], no_api["api_access"]) == (True, False)
    assert [p["archived"] for p in main["projects"]] == [False, True]
    for project in main["projects"]:
        issues = _issues(sandbox, token, project, limit=1000)["data"]
        assert project["issues"] == len(issues) == 40
        assert project["comments"] == sum(issue["comments"] for issue in issues)
        deleted = sandbox.data(f"/v5/project/{project['uuid']}/issue-filter/filter_deleted", token)
        assert project["deleted_issues"] == deleted["count"]
        assert set(project) >= {"uuid", "id", "title", "archived", "frozen", "api_access"}


def test_touched_issues_are_the_only_ones_after_the_watermark(sandbox: SandboxProcess) -> None:
    token = sandbox.access_token()
    project = _first_project(sandbox)
    before = _issues(sandbox, token, project, limit=1000)
    watermark = before["synchronized"]
    assert _issues(sandbox, token, project, synchronized=watermark)["count"] == 0

    updated = sandbox.touch_issues(project["uuid"], [3, 7])
    assert updated >= watermark
    after = _issues(sandbox, token, project, synchronized=watermark)
    assert [issue["id"] for issue in after["data"]] == [3, 7]
    assert after["count"] == 2
    original = {issue["id"]: issue for issue in before["data"]}
    for issue in after["data"]:
        assert issue["updated"] == updated
        assert issue["title"]["timestamp"] == updated
        assert issue["version"] == original[issue["id"]]["version"] + 1
        assert issue["uuid"] == original[issue["id"]]["uuid"]
    everything = _issues(sandbox, token, project, limit=1000)
    assert everything["count"] == before["count"]


def test_synchronized_returns_issues_updated_at_or_after_the_watermark(
    sandbox: SandboxProcess,
) -> None:
    token = sandbox.access_token()
    project = _first_project(sandbox)
    issues = _issues(sandbox, token, project, limit=1000)["data"]
    middle = sorted(issue["updated"] for issue in issues)[len(issues) // 2]
    newer = _issues(sandbox, token, project, limit=1000, synchronized=middle)
    expected = [issue["id"] for issue in issues if issue["updated"] >= middle]
    assert [issue["id"] for issue in newer["data"]] == expected
    assert newer["count"] == len(expected)


def test_touch_refuses_unknown_projects_and_issue_ids(sandbox: SandboxProcess) -> None:
    project = _first_project(sandbox)
    url = sandbox.url("/_sandbox/touch-issues")
    unknown_issue = requests.post(
        url, json={"project_uuid": project["uuid"], "ids": [10**6]}, timeout=10
    )
    assert (unknown_issue.status_code, unknown_issue.json()["field"]) == (400, "ids")
    missing = requests.post(url, json={"project_uuid": "0" * 32, "ids": [1]}, timeout=10)
    assert missing.status_code == 404
    bad = requests.post(url, json={"project_uuid": project["uuid"], "ids": "1"}, timeout=10)
    assert (bad.status_code, bad.json()["field"]) == (400, "ids")


def test_a_100000_issue_project_serves_late_pages_in_little_memory(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=BIG_PROJECT_ISSUES)
    token = sandbox.access_token()
    project = sandbox.catalog()["licenses"][0]["projects"][0]
    assert project["issues"] == BIG_PROJECT_ISSUES
    late = _issues(sandbox, token, project, page=999, limit=100)
    assert (late["count"], late["pages"]) == (BIG_PROJECT_ISSUES, 1000)
    assert [issue["id"] for issue in late["data"]] == list(range(99_901, 100_001))
    last = late["data"][-1]
    comments = sandbox.data(
        f"/v5/issue/{last['uuid']}/comments/date", token, projectId=project["id"], date="2000-01-01"
    )
    assert comments["count"] == last["comments"]
    recent = _issues(sandbox, token, project, synchronized=last["updated"], limit=10)
    assert 1 <= recent["count"] < BIG_PROJECT_ISSUES
    assert sandbox.rss_kib() < MAX_RSS_KIB


def test_comments_per_issue_bounds_every_issues_comment_count(
    sandbox_factory: SandboxFactory,
) -> None:
    silent = sandbox_factory(projects=1, issues_per_project=30, comments_per_issue=0)
    chatty = sandbox_factory(projects=1, issues_per_project=30, comments_per_issue=12)
    assert _first_project(silent)["comments"] == 0
    token = chatty.access_token()
    counts = [issue["comments"] for issue in _issues(chatty, token, _first_project(chatty))["data"]]
    assert max(counts) <= 12
    assert max(counts) > 4


def test_a_bad_fixture_file_stops_the_sandbox_with_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"projects": [{"issues": []}]}))
    argv = python_module("sandbox", "--port", "1", "--fixtures", str(broken))
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert finished.returncode == 2
    assert "projects[0] has no projectUuid" in finished.stderr
