"""The token service against the sandbox, as real processes: proactive and reactive refresh,
single flight across replicas, rotation, retries and re-authentication."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.token_service import StartService, token
from tests.support.waiting import wait_until


def refreshes(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["token_endpoint"]["refresh_token"]["ok"])


@pytest.mark.slow
def test_short_lived_tokens_are_refreshed_before_expiry_and_callers_never_see_401(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    # Given tokens that live 6 seconds and a client using them continuously for 40
    sandbox = sandbox_factory(token_lifetime=6, projects=1, issues_per_project=5)
    service = start_service(sandbox)
    first = token(service)
    seen_generations = {first["generation"]}
    deadline = time.monotonic() + 40
    calls = 0
    while time.monotonic() < deadline:
        body = token(service)
        assert body["expires_at"] - time.time() > 0.5, "handed out a token about to expire"
        seen_generations.add(body["generation"])
        reply = sandbox.get("/v5/user", body["access_token"])
        # Then no data request is ever refused
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == 0
        calls += 1
        time.sleep(0.05)
    stats = sandbox.stats()
    # And the refreshes happened (proactively: no 401 at all), one per rotation
    assert stats["responses_401"] == 0
    rotations = max(seen_generations) - first["generation"]
    assert rotations >= 40 // 6 - 1, (rotations, calls)
    assert stats["token_endpoint"]["refresh_token"]["ok"] == rotations
    assert stats["token_endpoint"]["refresh_token"]["rejected"] == 0
    assert stats["token_endpoint"]["authorization_code"]["ok"] == 1


def test_a_storm_of_callers_on_two_replicas_causes_exactly_one_refresh(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    # Given two replicas, a token with 12 s of life and a slow token endpoint (the storm
    # must finish before the new token enters its own refresh window, 6 s later)
    sandbox = sandbox_factory(token_lifetime=12, projects=1, issues_per_project=5)
    replicas = [start_service(sandbox), start_service(sandbox)]
    first = token(replicas[0])
    sandbox.set_faults(token_latency_ms=300)
    before = refreshes(sandbox)
    # When 100 callers ask at once, after the token entered the refresh window
    wait_until(lambda: time.time() > first["refresh_at"], timeout=15, what="refresh window")
    with ThreadPoolExecutor(100) as pool:
        replies = list(pool.map(lambda i: replicas[i % 2].get_token(), range(100)))
    # Then Revizto saw one refresh, and every caller got the same new generation
    assert [r.status_code for r in replies] == [200] * 100
    generations = {r.json()["generation"] for r in replies}
    assert generations == {first["generation"] + 1}
    assert refreshes(sandbox) - before == 1


def test_fifty_concurrent_401_reports_for_one_generation_cause_one_refresh(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    replicas = [start_service(sandbox), start_service(sandbox)]
    stale = token(replicas[0])["generation"]
    sandbox.set_faults(token_latency_ms=200)
    before = refreshes(sandbox)
    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(lambda i: replicas[i % 2].report_rejection(stale), range(50)))
    assert [r.status_code for r in replies] == [200] * 50
    assert {r.json()["generation"] for r in replies} == {stale + 1}
    assert refreshes(sandbox) - before == 1
    # A report for a generation already replaced refreshes nothing more
    assert replicas[1].report_rejection(stale).json()["generation"] == stale + 1
    assert refreshes(sandbox) - before == 1


@pytest.mark.parametrize("rotating", [True, False])
def test_rotating_and_non_rotating_refresh_tokens_both_keep_working(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path, rotating: bool
) -> None:
    sandbox = sandbox_factory(
        non_rotating_refresh_tokens=not rotating, projects=1, issues_per_project=5
    )
    service = start_service(sandbox)
    generation = token(service)["generation"]
    stored = []
    for _ in range(3):
        body = service.report_rejection(generation).json()
        generation = body["generation"]
        # decimal exp: the expiry keeps its fraction of a second
        assert body["expires_at"] != int(body["expires_at"])
        assert sandbox.get("/v5/user", body["access_token"]).status_code == 200
        stored.append(
            json.loads((tmp_path / "appsettings.json").read_text())["ReviztoAPI"]["RefreshToken"]
        )
    assert refreshes(sandbox) == 3
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0
    # Rotating: every refresh stored a new refresh token; non-rotating: the one kept working
    assert len(set(stored)) == (3 if rotating else 1)
    log = service.log()
    assert log.count("New refresh token provided: true") == (3 if rotating else 0)
    assert log.count("New refresh token provided: false") == (0 if rotating else 3)


def test_transient_failures_are_retried_and_counted_without_reauth(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    generation = token(service)["generation"]

    # Two 5xx, then success: refreshed after retries
    sandbox.set_faults(fail_next={"count": 2, "status": 503, "scope": "token"})
    body = service.report_rejection(generation).json()
    assert body["generation"] == generation + 1
    assert refreshes(sandbox) == 1
    assert sandbox.stats()["responses_5xx"] == 2

    # Three 5xx: the refresh fails with reason server_error, no re-auth
    generation = body["generation"]
    sandbox.set_faults(fail_next={"count": 3, "status": 502, "scope": "token"})
    failed = service.report_rejection(generation)
    assert failed.status_code == 503
    assert failed.json()["reason"] == "server_error"
    assert service.metric("revizto_token_refresh_failures_total", reason="server_error") == 1
    assert service.metric("revizto_token_reauth_required") == 0
    # And the next call tries again, and succeeds
    assert service.report_rejection(generation).json()["generation"] == generation + 1


def test_revoked_refresh_token_requires_reauthentication_once_then_recovers(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    generation = token(service)["generation"]
    sandbox.set_faults(revoke_refresh_tokens=True)

    # The access token still works, so proactive callers keep getting it...
    assert service.get_token().status_code == 200
    # ...but a reported 401 needs a refresh, which Revizto refuses
    first = service.report_rejection(generation)
    assert first.status_code == 503
    problem = first.json()
    assert first.headers["Content-Type"] == "application/problem+json"
    assert problem["type"].endswith("/reauth-required")
    assert problem["reason"] == "refresh_token_expired"
    again = service.report_rejection(generation)
    assert again.status_code == 503
    assert service.metric("revizto_token_reauth_required") == 1
    assert requests.get(f"{service.base_url}/readyz", timeout=5).status_code == 503
    # Revizto was asked once; the seed's error line was logged once
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 1
    line = "Refresh token appears to be expired or invalid. Re-authentication required."
    assert service.log().count(line) == 1

    # A fresh access code through the helper recovers without a restart
    code, _out, err = service.cli("auth", "--access-code", sandbox.access_code())
    assert code == 0, err
    assert service.metric("revizto_token_reauth_required") == 0
    recovered = token(service)
    assert recovered["generation"] > generation
    assert sandbox.get("/v5/user", recovered["access_token"]).status_code == 200

    # And again through PUT /v1/credentials
    sandbox.set_faults(revoke_refresh_tokens=True)
    assert service.report_rejection(recovered["generation"]).status_code == 503
    assert service.metric("revizto_token_reauth_required") == 1
    installed = service.put_credentials({"access_code": sandbox.access_code()})
    assert installed.status_code == 200, installed.text
    assert service.metric("revizto_token_reauth_required") == 0
    assert service.report_rejection(token(service)["generation"]).status_code == 200


def test_malformed_token_responses_keep_the_old_tokens(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    current = token(service)
    for kind in ("not_json", "no_access_token", "bad_exp"):
        sandbox.set_faults(malformed_token_responses=1, malformed_kind=kind)
        failed = service.report_rejection(current["generation"])
        assert failed.status_code == 503, kind
        assert failed.json()["reason"] == "invalid_response"
        # the old access token is still the one served, and still works
        assert token(service)["generation"] == current["generation"]
    assert service.metric("revizto_token_refresh_failures_total", reason="invalid_response") == 3
    assert "invalid response" in service.log()
    # and the old refresh token still refreshes
    assert (
        service.report_rejection(current["generation"]).json()["generation"]
        == current["generation"] + 1
    )


def test_in_reauth_the_token_is_served_while_valid_then_503_without_calling_revizto(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(token_lifetime=4, projects=1, issues_per_project=5)
    service = start_service(sandbox)
    current = token(service)
    sandbox.set_faults(revoke_refresh_tokens=True)
    assert service.report_rejection(current["generation"]).status_code == 503
    # Still valid: callers keep working on it
    assert token(service)["generation"] == current["generation"]

    def refused() -> bool:
        reply = service.get_token()
        return reply.status_code == 503 and reply.json()["type"].endswith("/reauth-required")

    wait_until(refused, timeout=10, interval=0.2, what="503 once the access token expired")
    assert requests.get(f"{service.base_url}/readyz", timeout=5).status_code == 503
    # However often it was asked, Revizto was asked once
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 1


def test_an_idle_service_keeps_its_refresh_token_alive(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    # Given nobody asking for tokens, and access tokens that outlive nothing
    sandbox = sandbox_factory(token_lifetime=2, projects=1, issues_per_project=5)
    service = start_service(sandbox, TOKEN_KEEPALIVE_SECONDS="1")
    first = token(service)["generation"]
    # Then the service refreshes on its own, so the refresh token is used and rotated
    wait_until(lambda: refreshes(sandbox) >= 2, timeout=15, what="keep-alive refreshes")
    assert token(service)["generation"] >= first + 2
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0
