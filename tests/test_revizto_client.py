"""The revizto client over real HTTP against the sandbox: paging, shapes, retries, token
refresh on rejection, error classes, OAuth grants and rotation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from revizto import (
    AccessCodeRejected,
    AccessCodeWrongRegion,
    AccessDenied,
    InvalidResponse,
    LocalRefreshingProvider,
    MalformedTokenResponse,
    NoApiAccess,
    NotFound,
    OAuthClient,
    RateLimited,
    RefreshTokenExpired,
    RetryPolicy,
    ReviztoClient,
    ServerError,
    StaticTokenProvider,
    TokenPair,
    TokenRejected,
    WrongRegion,
    decode_stamp_fields,
)
from tests.support.sandbox import SandboxFactory, SandboxProcess

# Tiny backoffs: these tests count attempts, they do not wait for them.
FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.02, jitter=0.01)


class RecordedSleeps(list[float]):
    """A `sleep` for RetryPolicy that remembers how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connect(
    sandbox: SandboxProcess, retry: RetryPolicy = FAST_RETRY
) -> tuple[ReviztoClient, LocalRefreshingProvider]:
    oauth = OAuthClient(sandbox.base_url, retry_policy=retry)
    provider = LocalRefreshingProvider(oauth, oauth.exchange_access_code(sandbox.access_code()))
    return ReviztoClient(sandbox.base_url, provider, retry_policy=retry), provider


def main_project(client: ReviztoClient) -> dict[str, Any]:
    license_ = client.licenses()[0]
    return client.license_projects(license_["uuid"])[0]


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(
        tmp_path_factory.mktemp("big"), projects=2, issues_per_project=1050, seed=11
    )
    yield sandbox
    sandbox.stop()


def test_a_1050_issue_project_reads_completely_in_11_pages(big_sandbox: SandboxProcess) -> None:
    client, _ = connect(big_sandbox)
    project = main_project(client)
    pages = list(client.iter_issue_pages(project["uuid"], limit=100))
    ids = [issue["id"] for page in pages for issue in page.items]
    assert len(pages) == 11
    assert sorted(ids) == list(range(1, 1051))
    assert len({issue["uuid"] for page in pages for issue in page.items}) == 1050
    assert all(page.synchronized for page in pages)


def test_both_list_shapes_and_every_exporter_endpoint(big_sandbox: SandboxProcess) -> None:
    client, _ = connect(big_sandbox)
    assert client.current_user()["email"]
    license_ = client.licenses()[0]
    unpaged = client.license_projects(license_["uuid"])
    paged = list(client.iter_license_projects_paged(license_["uuid"], limit=1))
    assert [p["uuid"] for p in paged] == [p["uuid"] for p in unpaged]
    assert client.license_team(license_["uuid"])
    project = unpaged[0]
    assert client.project_team(project["uuid"])
    workflow = client.issue_workflow_settings(project["uuid"])
    assert {"workflows", "types", "statuses"} <= set(workflow)
    stamps = list(client.iter_stamps(project["uuid"]))
    assert stamps
    assert all(isinstance(s["fields"], str) for s in stamps)
    templates = [decode_stamp_fields(s) for s in stamps if s.get("nodeRole") == 1]
    assert templates
    assert all("stampAbbr" in f for f in templates)
    assert client.sheets(project["uuid"])
    deleted = list(client.iter_issues(project["uuid"], deleted=True))
    assert deleted
    assert all(d["deletedAt"]["value"] for d in deleted)


def test_comments_need_the_numeric_project_id(big_sandbox: SandboxProcess) -> None:
    client, _ = connect(big_sandbox)
    project = main_project(client)
    issue = next(i for i in client.iter_issues(project["uuid"], limit=50) if i["comments"] > 0)
    comments = list(client.iter_comments(issue["uuid"], project["id"]))
    assert len(comments) == issue["comments"]
    with pytest.raises(TypeError, match="numeric project id"):
        list(client.iter_comments(issue["uuid"], project["uuid"]))  # type: ignore[arg-type]
    other = client.license_projects(client.licenses()[0]["uuid"])[1]
    with pytest.raises(NotFound):
        list(client.iter_comments(issue["uuid"], other["id"]))


def test_incremental_reads_only_changed_issues(big_sandbox: SandboxProcess) -> None:
    client, _ = connect(big_sandbox)
    project = main_project(client)
    watermark = next(client.iter_issue_pages(project["uuid"], limit=10)).synchronized
    assert watermark is not None
    big_sandbox.touch_issues(project["uuid"], [5, 700])
    changed = list(client.iter_issues(project["uuid"], synchronized=watermark))
    assert sorted(i["id"] for i in changed) == [5, 700]


def test_every_real_fixture_issue_is_served_and_parsed(
    sandbox_factory: SandboxFactory, real_issues_fixture: Path
) -> None:
    captured = json.loads(real_issues_fixture.read_text())
    sandbox = sandbox_factory(projects=1, issues_per_project=3, fixtures=str(real_issues_fixture))
    client, _ = connect(sandbox)
    for project in captured["projects"]:
        served = list(client.iter_issues(project["projectUuid"], limit=37))
        assert served == sorted(project["issues"], key=lambda i: i["id"])


def test_two_server_errors_then_success_is_retried(sandbox: SandboxProcess) -> None:
    client, _ = connect(sandbox)
    sandbox.reset_stats()
    sandbox.set_faults(fail_next={"count": 2, "status": 503, "scope": "data"})
    assert client.current_user()["email"]
    stats = sandbox.stats()
    assert stats["data_requests"] == 3
    assert stats["responses_5xx"] == 2


def test_three_server_errors_give_up_after_exactly_three_attempts(sandbox: SandboxProcess) -> None:
    client, _ = connect(sandbox)
    sandbox.reset_stats()
    sandbox.set_faults(fail_next={"count": 5, "status": 502, "scope": "data"})
    with pytest.raises(ServerError) as raised:
        client.licenses()
    assert raised.value.http_status == 502
    assert sandbox.stats()["data_requests"] == 3


def test_retry_after_is_honoured_and_capped(sandbox: SandboxProcess) -> None:
    sleeps = RecordedSleeps()
    client, _ = connect(sandbox, RetryPolicy(retry_after_cap=3.0, sleep=sleeps))
    sandbox.set_faults(fail_next={"count": 1, "status": 429, "scope": "data", "retry_after_s": 2})
    client.current_user()
    sandbox.set_faults(fail_next={"count": 1, "status": 429, "scope": "data", "retry_after_s": 60})
    client.current_user()
    assert sleeps == [2.0, 3.0]
    sandbox.set_faults(
        fail_next={"count": 3, "status": 429, "scope": "data", "retry_after_s": 0.01}
    )
    with pytest.raises(RateLimited):
        client.current_user()


def test_a_rejected_token_is_refreshed_once_and_the_request_retried_once(
    sandbox: SandboxProcess,
) -> None:
    client, provider = connect(sandbox)
    sandbox.reset_stats()
    sandbox.set_faults(fail_next={"count": 1, "status": 401, "scope": "data"})
    assert client.current_user()["email"]
    stats = sandbox.stats()
    assert provider.refreshes == 1
    assert stats["responses_401"] == 1
    assert stats["data_requests"] == 2
    assert stats["token_endpoint"]["refresh_token"]["ok"] == 1

    # A token rejected again right after the refresh: no loop, the error surfaces
    sandbox.set_faults(fail_next={"count": 2, "status": 401, "scope": "data"})
    with pytest.raises(TokenRejected):
        client.current_user()
    assert provider.refreshes == 2


def test_expired_token_reported_as_http_200_with_206_is_also_refreshed(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(expired_token_status=200, projects=1, issues_per_project=5)
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    real = oauth.exchange_access_code(sandbox.access_code())
    # An access token Revizto no longer accepts, with a good refresh token behind it
    stale = LocalRefreshingProvider(oauth, TokenPair("not-a-real-token", real.refresh_token, 0, 0))
    client = ReviztoClient(sandbox.base_url, stale, retry_policy=FAST_RETRY)
    assert client.current_user()["email"]
    assert stale.refreshes == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 200, "result": -205}, WrongRegion),
        ({"status": 200, "result": -204}, NoApiAccess),
        ({"status": 200, "result": -20}, AccessDenied),
        ({"status": 403}, AccessDenied),
        ({"status": 200, "result": -12}, NotFound),
        ({"status": 404}, NotFound),
        ({"status": 200, "result": 0}, InvalidResponse),
    ],
)
def test_each_error_class_is_raised_without_refresh_or_retry(
    sandbox: SandboxProcess, fault: dict[str, Any], error: type[Exception]
) -> None:
    client, provider = connect(sandbox)
    sandbox.reset_stats()
    sandbox.set_faults(fail_next={"count": 1, "scope": "data", **fault})
    with pytest.raises(error):
        client.licenses()
    assert provider.refreshes == 0
    assert sandbox.stats()["data_requests"] == 1


def test_unknown_path_is_not_found(sandbox: SandboxProcess) -> None:
    client, _ = connect(sandbox)
    with pytest.raises(NotFound):
        client.transport.get_data("v5/licences", endpoint="t", bearer=sandbox.access_token())


def test_refresh_tokens_rotate_and_a_reused_one_is_rejected(sandbox: SandboxProcess) -> None:
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    first = oauth.exchange_access_code(sandbox.access_code())
    assert first.refresh_token is not None
    assert first.expires_at != int(first.expires_at)  # Revizto's exp has microseconds
    second = oauth.refresh(first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    with pytest.raises(RefreshTokenExpired) as raised:
        oauth.refresh(first.refresh_token)
    assert raised.value.http_status == 403
    # A rejection is an answer: it was asked once, not retried
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 1


@pytest.mark.parametrize("style", ["403", "invalid_grant", "result", "200-206"])
def test_every_refusal_style_is_refresh_token_expired(sandbox: SandboxProcess, style: str) -> None:
    sandbox.set_faults(refresh_reject_style=style)
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    with pytest.raises(RefreshTokenExpired):
        oauth.refresh("def50200" + "0" * 40)
    with pytest.raises(AccessCodeRejected):
        oauth.exchange_access_code("def50200" + "1" * 40)


def test_a_refusal_as_http_500_is_a_server_error_for_the_caller_to_judge(
    sandbox: SandboxProcess,
) -> None:
    # A corrupt token answered with HTTP 500 looks exactly like a failing server: the
    # client cannot tell, so it reports a ServerError after its retries
    sandbox.set_faults(refresh_reject_style="500")
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    with pytest.raises(ServerError):
        oauth.refresh("def50200" + "0" * 40)
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == FAST_RETRY.attempts


def test_an_access_code_of_another_region_names_the_fix(sandbox: SandboxProcess) -> None:
    sandbox.set_faults(wrong_region_codes=True)
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    with pytest.raises(AccessCodeWrongRegion) as raised:
        oauth.exchange_access_code(sandbox.access_code())
    assert "set BaseUrl to https://api.<region>.revizto.com" in str(raised.value)
    assert raised.value.result == -205
    # Asked once: no legacy-form retry for a code that is simply another region's
    assert sandbox.stats()["token_endpoint"]["authorization_code"]["rejected"] == 1


def test_an_access_code_refused_in_the_post_form_is_taken_in_the_get_form(
    sandbox: SandboxProcess,
) -> None:
    sandbox.set_faults(refuse_code_post=True)
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    pair = oauth.exchange_access_code(sandbox.access_code())
    assert pair.refresh_token
    grants = sandbox.stats()["token_endpoint"]["authorization_code"]
    assert grants == {"ok": 1, "rejected": 1}


def test_non_rotating_refresh_tokens_keep_working(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(non_rotating_refresh_tokens=True, projects=1, issues_per_project=5)
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    first = oauth.exchange_access_code(sandbox.access_code())
    assert first.refresh_token is not None
    for _ in range(3):
        again = oauth.refresh(first.refresh_token)
        assert again.refresh_token is None


@pytest.mark.parametrize("kind", ["not_json", "no_access_token", "bad_exp"])
def test_malformed_token_replies_are_classified(sandbox: SandboxProcess, kind: str) -> None:
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    pair = oauth.exchange_access_code(sandbox.access_code())
    assert pair.refresh_token is not None
    sandbox.set_faults(malformed_token_responses=1, malformed_kind=kind)
    with pytest.raises(MalformedTokenResponse):
        oauth.refresh(pair.refresh_token)
    assert oauth.refresh(pair.refresh_token).access_token  # the old token was not spent


def test_token_endpoint_server_errors_are_retried(sandbox: SandboxProcess) -> None:
    oauth = OAuthClient(sandbox.base_url, retry_policy=FAST_RETRY)
    pair = oauth.exchange_access_code(sandbox.access_code())
    assert pair.refresh_token is not None
    sandbox.set_faults(fail_next={"count": 2, "status": 500, "scope": "token"})
    assert oauth.refresh(pair.refresh_token).refresh_token
    sandbox.set_faults(fail_next={"count": 3, "status": 500, "scope": "token"})
    with pytest.raises(ServerError):
        oauth.refresh(pair.refresh_token, attempts=3)


def test_static_provider_cannot_refresh(sandbox: SandboxProcess) -> None:
    client = ReviztoClient(
        sandbox.base_url, StaticTokenProvider("garbage"), retry_policy=FAST_RETRY
    )
    with pytest.raises(RefreshTokenExpired):
        client.current_user()


def test_requests_carry_the_project_user_agent(sandbox: SandboxProcess) -> None:
    client, _ = connect(sandbox)
    assert client.transport.session.headers["User-Agent"].startswith("revizto-data-exporter/")
