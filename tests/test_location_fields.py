"""The fields people filter on (level, zone, room...), comment page sizes, and list replies
without `pages`: the sandbox and the client over real HTTP, and the files an export writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from revizto import (
    InvalidResponse,
    LocalRefreshingProvider,
    OAuthClient,
    RetryPolicy,
    ReviztoClient,
)
from revizto.pagination import iter_paged
from tests.support.exporter import StartStack, exported_licence, ndjson
from tests.support.sandbox import SandboxFactory, SandboxProcess

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.02, jitter=0.01)
ASK = {"additionalFields[]": ["appendClashAndLocationFields"]}
LOCATION_KEYS = {"level", "zone", "room", "area", "grid"}
ISSUES = 60
COMMENT_PAGE = 100  # what the sandbox serves whatever `limit` a client sends


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One project of 60 issues, some with several hundred comments."""
    sandbox = SandboxProcess(
        tmp_path_factory.mktemp("locations"),
        seed=21,
        projects=1,
        issues_per_project=ISSUES,
        comments_per_issue=350,
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def token(site: SandboxProcess) -> str:
    return site.access_token()


@pytest.fixture(scope="module")
def project(site: SandboxProcess) -> dict[str, Any]:
    projects: list[dict[str, Any]] = site.catalog()["licenses"][0]["projects"]
    return projects[0]


def connect(sandbox: SandboxProcess, **options: Any) -> ReviztoClient:
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    provider = LocalRefreshingProvider(oauth, oauth.exchange_access_code(sandbox.access_code()))
    return ReviztoClient(sandbox.base_url, provider, retry_policy=FAST_RETRY, **options)


def issues_path(project: dict[str, Any], suffix: str = "filter") -> str:
    return f"/v5/project/{project['uuid']}/issue-filter/{suffix}"


def all_issues(site: SandboxProcess, token: str, project: dict[str, Any], **params: Any) -> Any:
    """Every issue of the project in one page, as the sandbox serves them for `params`."""
    return site.data(issues_path(project), token, limit=1000, **params)["data"]


# --- the sandbox -----------------------------------------------------------------------------


def test_locations_come_only_when_asked_for(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    plain = all_issues(site, token, project)
    asked = all_issues(site, token, project, **ASK)
    assert len(plain) == len(asked) == ISSUES
    assert not any("clashAndLocationFields" in issue for issue in plain)
    for before, after in zip(plain, asked, strict=True):
        # The same issue, key for key, with the location object last
        assert list(after) == [*before, "clashAndLocationFields"]
        assert {k: v for k, v in after.items() if k != "clashAndLocationFields"} == before
        locations = after["clashAndLocationFields"]
        assert set(locations) == LOCATION_KEYS
        assert all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in locations.values()
        )
    filled = {
        key: sum(bool(i["clashAndLocationFields"][key]) for i in asked)
        for key in ("level", "zone", "room")
    }
    assert all(0 < count < ISSUES for count in filled.values()), filled
    # Stable from one request to the next, whatever the page size
    assert all_issues(site, token, project, **ASK) == asked
    assert site.data(issues_path(project), token, page=1, limit=7, **ASK)["data"] == asked[7:14]


@pytest.mark.parametrize(
    "params",
    [
        {"additionalFields": "appendClashAndLocationFields"},  # without PHP's brackets
        {"additionalFields[]": ["somethingElse", "appendClashAndLocationFields"]},
    ],
)
def test_other_spellings_of_the_request_ask_too(
    site: SandboxProcess, token: str, project: dict[str, Any], params: dict[str, Any]
) -> None:
    issues = site.data(issues_path(project), token, limit=5, **params)["data"]
    assert all("clashAndLocationFields" in issue for issue in issues)


def test_another_additional_field_does_not_bring_locations(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    issues = site.data(issues_path(project), token, limit=5, **{"additionalFields[]": "x"})
    assert not any("clashAndLocationFields" in issue for issue in issues["data"])


def test_the_post_form_and_deleted_issues_take_the_request_too(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    reply = requests.post(
        site.url(issues_path(project)),
        json={"page": 0, "limit": 5, "additionalFields": ["appendClashAndLocationFields"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    posted = reply.json()["data"]["data"]
    assert posted == all_issues(site, token, project, **ASK)[:5]
    deleted = site.data(issues_path(project, "filter_deleted"), token, **ASK)["data"]
    assert deleted
    assert all(set(d["clashAndLocationFields"]) == LOCATION_KEYS for d in deleted)
    plain_deleted = site.data(issues_path(project, "filter_deleted"), token)["data"]
    assert not any("clashAndLocationFields" in d for d in plain_deleted)


def test_captured_issues_stay_as_captured_when_asked(
    sandbox_factory: SandboxFactory, real_issues_fixture: Path
) -> None:
    capture = json.loads(real_issues_fixture.read_text(encoding="utf-8"))
    sandbox = sandbox_factory(projects=1, issues_per_project=2, fixtures=str(real_issues_fixture))
    token = sandbox.access_token()
    captured = capture["projects"][0]
    served = sandbox.data(
        f"/v5/project/{captured['projectUuid']}/issue-filter/filter", token, limit=1000, **ASK
    )["data"]
    assert served == sorted(captured["issues"], key=lambda issue: issue["id"])


def test_comment_pages_have_revizto_s_size_whatever_limit_is_asked(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    issue = max(all_issues(site, token, project), key=lambda i: i["comments"])
    assert issue["comments"] > 2 * COMMENT_PAGE
    pages = math.ceil(issue["comments"] / COMMENT_PAGE)
    for limit in (5, 1000, "many"):
        first = site.comments_reply(token, issue["uuid"], project["id"], limit=limit)["data"]
        assert (first["limit"], first["pages"], first["count"]) == (
            COMMENT_PAGE,
            pages,
            issue["comments"],
        )
        assert len(first["data"]) == COMMENT_PAGE
    last = site.comments_reply(token, issue["uuid"], project["id"], page=pages - 1)["data"]
    assert len(last["data"]) == issue["comments"] - (pages - 1) * COMMENT_PAGE


def test_the_omit_pages_fault_leaves_pages_out_of_every_list(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    licence = site.catalog()["licenses"][0]
    issue = all_issues(site, token, project)[0]
    paths = [
        (issues_path(project), {}),
        (issues_path(project, "filter_deleted"), {}),
        (f"/v5/project/list/{licence['uuid']}/paged", {}),
    ]
    try:
        site.set_faults(omit_pages=True)
        replies = [site.data(path, token, **params) for path, params in paths]
        replies.append(site.comments_reply(token, issue["uuid"], project["id"])["data"])
    finally:
        site.set_faults(omit_pages=False)
    assert all("pages" not in reply and "count" in reply for reply in replies)
    assert "pages" in site.data(issues_path(project), token)


# --- the client ------------------------------------------------------------------------------


def test_the_client_asks_for_locations_unless_told_not_to(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    expected = all_issues(site, token, project, **ASK)
    # The sandbox answers with locations only when asked, so these were asked for
    assert list(connect(site).iter_issues(project["uuid"], limit=25)) == expected
    silent = list(connect(site, issue_additional_fields=()).iter_issues(project["uuid"]))
    assert silent == all_issues(site, token, project)
    assert not any("clashAndLocationFields" in issue for issue in silent)


def test_the_client_walks_every_comment_page_revizto_chooses(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    client = connect(site)
    issue = max(all_issues(site, token, project), key=lambda i: i["comments"])
    pages = list(client.iter_comment_pages(issue["uuid"], project["id"]))
    assert [len(p.items) for p in pages[:-1]] == [COMMENT_PAGE] * (len(pages) - 1)
    comments = [c for p in pages for c in p.items]
    assert len(comments) == len({c["uuid"] for c in comments}) == issue["comments"]
    assert [c["created"] for c in comments] == sorted(c["created"] for c in comments)


def test_the_client_walks_lists_without_pages_to_their_end(
    site: SandboxProcess, token: str, project: dict[str, Any]
) -> None:
    client = connect(site)
    licence = site.catalog()["licenses"][0]
    issue = max(all_issues(site, token, project), key=lambda i: i["comments"])
    try:
        site.set_faults(omit_pages=True)
        site.reset_stats()
        short_last = list(client.iter_issue_pages(project["uuid"], limit=7))
        short_requests = site.stats()["data_requests"]
        site.reset_stats()
        full_last = list(client.iter_issue_pages(project["uuid"], limit=10))
        full_requests = site.stats()["data_requests"]
        comments = list(client.iter_comments(issue["uuid"], project["id"]))
        projects = list(client.iter_license_projects_paged(licence["uuid"], limit=1))
    finally:
        site.set_faults(omit_pages=False)
    assert all(page.pages is None for page in short_last + full_last)
    for walk in (short_last, full_last):
        assert [i["id"] for page in walk for i in page.items] == list(range(1, ISSUES + 1))
    # 60 issues: the 7-a-page walk ends on its short ninth page, the 10-a-page walk once
    # `count` issues are in; neither asks for a page past the end.
    assert (len(short_last), short_requests) == (9, 9)
    assert (len(full_last), full_requests) == (6, 6)
    assert len(comments) == len({c["uuid"] for c in comments}) == issue["comments"]
    assert [p["uuid"] for p in projects] == [p["uuid"] for p in licence["projects"]]


# --- pagination without `pages`, as pure logic -----------------------------------------------


def reply(items: list[int], **extra: Any) -> dict[str, Any]:
    return {"data": [{"id": i} for i in items], **extra}


class Canned:
    def __init__(self, *replies: dict[str, Any]) -> None:
        self.replies = replies
        self.asked: list[int] = []

    def __call__(self, page: int) -> dict[str, Any]:
        self.asked.append(page)
        return self.replies[page] if page < len(self.replies) else reply([])


def walk(fetch: Canned, **options: Any) -> list[int]:
    return [
        item["id"] for page in iter_paged(fetch, endpoint="t", **options) for item in page.items
    ]


def test_without_pages_the_reply_s_limit_says_which_page_is_short() -> None:
    fetch = Canned(reply([1, 2], limit=2), reply([3], limit=2))
    assert walk(fetch, page_size=1) == [1, 2, 3]  # the server's limit wins over the asked one
    assert fetch.asked == [0, 1]


def test_without_pages_or_limit_the_asked_page_size_does() -> None:
    fetch = Canned(reply([1, 2]), reply([3]))
    assert walk(fetch, page_size=2) == [1, 2, 3]
    assert fetch.asked == [0, 1]


def test_without_pages_a_full_last_page_ends_at_count() -> None:
    fetch = Canned(reply([1, 2], limit=2, count=4), reply([3, 4], limit=2, count=4))
    assert walk(fetch) == [1, 2, 3, 4]
    assert fetch.asked == [0, 1]


def test_without_pages_limit_or_count_an_empty_page_ends_it() -> None:
    fetch = Canned(reply([1, 2]), reply([3, 4]))
    assert walk(fetch) == [1, 2, 3, 4]
    assert fetch.asked == [0, 1, 2]


def test_without_pages_a_repeated_page_is_still_refused() -> None:
    fetch = Canned(reply([1, 2], limit=2), reply([1, 2], limit=2))
    with pytest.raises(InvalidResponse, match="page 1 repeats page 0"):
        walk(fetch)


def test_an_odd_limit_does_not_fail_a_reply_that_has_pages() -> None:
    fetch = Canned(reply([1], pages=2, limit="2"), reply([2], pages=2, limit=True))
    assert walk(fetch) == [1, 2]


# --- the export files ------------------------------------------------------------------------


def test_csv_has_the_location_columns_and_ndjson_the_raw_objects(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=120, seed=23)
    stack = exporter_factory(sandbox, workers=1)
    project = exported_licence(sandbox)["projects"][0]
    key = project["uuid"].replace("-", "")
    expected = all_issues(sandbox, sandbox.access_token(), project, **ASK)

    raw = stack.wait_finished(stack.submit({"resources": ["issues"]})["id"])
    assert raw["state"] == "succeeded", raw["error"]
    exported = ndjson(stack.download(raw["id"], f"issues-{key}.ndjson"))
    assert exported == expected
    assert [list(issue) for issue in exported] == [list(issue) for issue in expected]

    flat = stack.wait_finished(stack.submit({"format": "csv", "resources": ["issues"]})["id"])
    assert flat["state"] == "succeeded", flat["error"]
    text = stack.download(flat["id"], f"issues-{key}.csv").decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert list(reader.fieldnames or [])[-6:] == [
        "level",
        "zone",
        "room",
        "area",
        "grid",
        "isClash",
    ]
    rows = list(reader)
    assert [int(row["id"]) for row in rows] == [issue["id"] for issue in expected]
    for row, issue in zip(rows, expected, strict=True):
        locations = issue["clashAndLocationFields"]
        for column in ("level", "zone", "room", "area", "grid"):
            assert row[column] == ";".join(locations[column]), (issue["id"], column)
        assert row["isClash"] == ("true" if issue["type"] == 3 else "false")
    assert {row["isClash"] for row in rows} == {"true", "false"}
    assert any(row["level"] and row["zone"] and row["room"] for row in rows)
    assert any(row["room"] == "" for row in rows)
