"""A real tenant's refusals, as real processes: every shape of a refused refresh token ends
in the re-auth state exactly once; access codes of another region or refused in the POST
form; a base URL that cannot be Revizto's; fingerprints in the logs; the credential's age;
and a Redis that lost the state while nobody asked for a token."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from revizto.base_url import BadBaseUrl, checked_base_url
from tests.support.sandbox import SandboxFactory, SandboxProcess, issued_secrets
from tests.support.token_service import (
    StartService,
    TokenServiceProcess,
    new_secret,
    run_token_service,
    token,
    write_appsettings,
)
from tests.support.waiting import wait_until

REAUTH_LINE = "Refresh token appears to be expired or invalid. Re-authentication required."


def rejected(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"])


def reauth_reason(service: TokenServiceProcess) -> Any:
    reply = service.get_token()
    if reply.status_code == 503 and reply.json()["type"].endswith("/reauth-required"):
        return reply.json()["reason"]
    return None


@pytest.mark.parametrize("style", ["403", "invalid_grant", "result", "200-206"])
def test_every_clear_refusal_shape_reaches_reauthentication_once(
    sandbox_factory: SandboxFactory, start_service: StartService, style: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    generation = token(service)["generation"]
    sandbox.set_faults(refresh_reject_style=style, revoke_refresh_tokens=True)

    for _ in range(3):
        assert service.report_rejection(generation).status_code == 503

    assert service.metric("revizto_token_reauth_required") == 1
    assert service.metric("revizto_token_refresh_failures_total", reason="invalid_response") == 0
    assert (
        service.metric("revizto_token_refresh_failures_total", reason="refresh_token_expired") == 1
    )
    assert rejected(sandbox) == 1
    assert service.log().count(REAUTH_LINE) == 1


def test_a_refusal_as_http_500_reaches_reauthentication_once_within_ten_requests(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox, TOKEN_REFRESH_FAILING_SECONDS="2")
    generation = token(service)["generation"]
    sandbox.set_faults(refresh_reject_style="500", revoke_refresh_tokens=True)

    def declared() -> Any:
        reply = service.report_rejection(generation)
        assert reply.status_code == 503, reply.text
        problem = reply.json()
        return problem["reason"] if problem["type"].endswith("/reauth-required") else None

    # Callers keep reporting the 401 as fast as they like; the service paces itself
    reason = wait_until(declared, timeout=30, interval=0.05, what="re-auth after 500s")

    assert reason == "refresh_failing"
    assert service.metric("revizto_token_reauth_required") == 1
    assert service.metric("revizto_token_refresh_failures_total", reason="refresh_failing") == 1
    assert 5 <= rejected(sandbox) <= 10
    assert service.log().count(REAUTH_LINE) == 1
    # And from then on Revizto is not asked again
    for _ in range(5):
        service.report_rejection(generation)
    assert rejected(sandbox) <= 10


def test_an_access_code_of_another_region_is_refused_with_the_fix_everywhere(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    sandbox.set_faults(wrong_region_codes=True)
    # At start-up, from appsettings.json's ApiKey: the re-auth state, with the reason
    service = start_service(sandbox)
    assert wait_until(lambda: reauth_reason(service), timeout=15) == "wrong_region"
    assert "set BaseUrl to https://api.<region>.revizto.com" in service.log()
    # Through PUT /v1/credentials: a 422 that names the fix
    reply = service.put_credentials({"access_code": sandbox.access_code()})
    assert reply.status_code == 422
    assert reply.json()["type"].endswith("/access-code-wrong-region")
    assert "set BaseUrl to https://api.<region>.revizto.com" in reply.json()["detail"]
    # Through the CLI helper
    code, _out, err = service.cli("auth", "--access-code", sandbox.access_code())
    assert code == 1
    assert "belongs to another region" in err


def test_an_access_code_refused_in_the_post_form_is_installed_through_the_get_form(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    before = token(service)["generation"]
    sandbox.set_faults(refuse_code_post=True)
    reply = service.put_credentials({"access_code": sandbox.access_code()})
    assert reply.status_code == 200, reply.text
    current = token(service)
    assert current["generation"] == before + 1
    assert sandbox.get("/v5/user", current["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("https://app.revizto.com/api", "it has a path"),
        ("http://api.virginia.revizto.com", "plain http"),
        ("https://app.revizto.com", "not a Revizto API host"),
    ],
)
def test_a_base_url_that_cannot_be_reviztos_api_stops_the_service_with_the_right_form(
    tmp_path: Path, redis_url: str, base_url: str, why: str
) -> None:
    path = tmp_path / "appsettings.json"
    write_appsettings(path, BaseUrl=base_url, ApiKey="def50200" + "1" * 40)
    original = path.read_bytes()
    env = {
        "REDIS_URL": redis_url,
        "APPSETTINGS_PATH": str(path),
        "TOKEN_SERVICE_SECRET": new_secret(),
        "TOKEN_SERVICE_BIND": "127.0.0.1:1",
        "REVIZTO_BASE_URL": "",
    }
    done = run_token_service(env, "serve")
    assert done.returncode == 78, done.stderr
    assert why in done.stderr
    assert "Use https://api.<region>.revizto.com" in done.stderr
    assert path.read_bytes() == original


def test_base_url_forms_that_are_accepted() -> None:
    assert checked_base_url("https://api.sydney.revizto.com/v5/") == (
        "https://api.sydney.revizto.com"
    )
    assert checked_base_url("http://127.0.0.1:8090", plain_http_hosts={"127.0.0.1"}) == (
        "http://127.0.0.1:8090"
    )
    with pytest.raises(BadBaseUrl):
        checked_base_url("http://127.0.0.1:8090")


def test_logs_follow_tokens_by_their_fingerprints_and_never_show_them(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    service.report_rejection(token(service)["generation"])
    log = service.log()
    refreshed = [line for line in log.splitlines() if "successfully refreshed" in line]
    assert len(refreshed) == 1
    assert re.search(r"access_token=[0-9a-f]{12} refresh_token=[0-9a-f]{12}\b", refreshed[0])
    assert "refresh_token=***" not in log
    for secret in issued_secrets(sandbox):
        assert secret not in log


def test_the_credential_age_is_visible_and_kept_across_rotations(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    started = time.time()
    service = start_service(sandbox, TOKEN_CREDENTIAL_MAX_AGE_DAYS="20")
    generation = token(service)["generation"]
    installed = service.metric("revizto_credential_installed_timestamp_seconds")
    assert installed is not None
    assert started - 1 <= installed <= time.time()
    assert service.metric("revizto_credential_max_age_seconds") == 20 * 86400
    # A rotation is not a person installing anything: the timestamp stays
    service.report_rejection(generation)
    assert service.metric("revizto_credential_installed_timestamp_seconds") == installed
    code, out, _err = service.cli("status")
    assert code == 0
    assert '"credential_max_age_days": 20.0' in out
    assert '"credential_renewal_due": false' in out
    # A new access code is a new installation
    assert service.put_credentials({"access_code": sandbox.access_code()}).status_code == 200
    later = service.metric("revizto_credential_installed_timestamp_seconds")
    assert later is not None
    assert later > installed


def test_readiness_recovers_by_itself_when_redis_lost_the_state(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox, TOKEN_STATE_CHECK_SECONDS="0.5")
    before = token(service)["generation"]
    ready = f"{service.base_url}/readyz"
    assert requests.get(ready, timeout=5).status_code == 200
    # Redis restarted without its data, and no one asks for a token
    redis.Redis.from_url(redis_url).flushdb()
    assert requests.get(ready, timeout=5).status_code == 503

    wait_until(
        lambda: requests.get(ready, timeout=5).status_code == 200,
        timeout=15,
        what="readiness without a caller",
    )
    # (the watch logs just after the state is back, so readiness may be seen first)
    wait_until(lambda: "re-seeded it" in service.log(), timeout=5, what="the watch's log line")
    # From the file this service mirrored: the same chain, at its generation
    assert token(service)["generation"] >= before
