"""The token service's HTTP contract and CLI: the shared secret, validation, readiness,
metrics, and `python -m token_service status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT
from tests.support.sandbox import SandboxProcess
from tests.support.token_service import StartService, TokenServiceProcess, new_secret, token


@pytest.fixture
def service(sandbox: SandboxProcess, start_service: StartService) -> TokenServiceProcess:
    return start_service(sandbox)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret", "Basic abc", "Bearer "])
def test_every_v1_route_requires_the_shared_secret(
    service: TokenServiceProcess, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("GET", "/v1/token"),
        ("POST", "/v1/token/refresh"),
        ("PUT", "/v1/credentials"),
    ]:
        reply = requests.request(
            method, service.base_url + path, headers=headers, json={}, timeout=5
        )
        assert reply.status_code == 401, (method, path)
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert "access_token" not in reply.text


def test_token_reply_carries_generation_and_float_expiry(service: TokenServiceProcess) -> None:
    body = token(service)
    assert set(body) >= {"access_token", "expires_at", "generation", "refresh_at"}
    assert isinstance(body["generation"], int)
    assert isinstance(body["expires_at"], float)
    assert body["refresh_at"] < body["expires_at"]
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ("not json", 400, "body"),
        ([1, 2], 400, "body"),
        ({}, 422, "generation"),
        ({"generation": "3"}, 422, "generation"),
        ({"generation": -1}, 422, "generation"),
        ({"generation": 1, "extra": True}, 422, "extra"),
    ],
)
def test_refresh_reports_are_validated(
    service: TokenServiceProcess, body: object, status: int, field: str
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    reply = requests.post(
        f"{service.base_url}/v1/token/refresh",
        data=data,
        headers={"Authorization": f"Bearer {service.secret}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == status
    assert field in {error["field"] for error in reply.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"access_code": "def50200abcdef12", "refresh_token": "def50200abcdef12"}, "body"),
        ({"access_code": 42}, "access_code"),
        ({"refresh_token": "short"}, "refresh_token"),
    ],
)
def test_credentials_are_validated_without_echoing_them(
    service: TokenServiceProcess, body: dict[str, object], field: str
) -> None:
    reply = service.put_credentials(body)
    assert reply.status_code == 422
    assert field in {error["field"] for error in reply.json()["errors"]}
    assert "def50200abcdef12" not in reply.text


def test_a_used_access_code_is_a_clear_422(
    service: TokenServiceProcess, sandbox: SandboxProcess
) -> None:
    code = sandbox.access_code()
    assert service.put_credentials({"access_code": code}).status_code == 200
    reply = service.put_credentials({"access_code": code})
    assert reply.status_code == 422
    assert reply.json()["type"].endswith("/access-code-rejected")


def test_a_known_refresh_token_is_tried_before_it_is_installed(
    service: TokenServiceProcess, sandbox: SandboxProcess
) -> None:
    pair = sandbox.exchange_code()
    before = token(service)["generation"]
    refreshed = sandbox.stats()["token_endpoint"]["refresh_token"]["ok"]
    reply = service.put_credentials({"refresh_token": pair["refresh_token"]})
    assert reply.status_code == 200, reply.text
    # The installation spent it once at Revizto, and installed the pair that came back
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["ok"] == refreshed + 1
    after = token(service)
    assert after["generation"] == before + 1
    assert sandbox.get("/v5/user", after["access_token"]).status_code == 200
    assert sandbox.refresh(pair["refresh_token"]).status_code == 403  # spent by the test


def test_a_mistyped_refresh_token_is_refused_and_the_working_credential_kept(
    service: TokenServiceProcess, sandbox: SandboxProcess
) -> None:
    current = token(service)
    reply = service.put_credentials({"refresh_token": "def50200" + "7" * 60})
    assert reply.status_code == 422
    assert reply.json()["type"].endswith("/refresh-token-rejected")
    assert "def50200" not in reply.text
    # Untouched and still served: same generation, and it still refreshes
    assert token(service)["generation"] == current["generation"]
    assert service.metric("revizto_token_reauth_required") == 0
    renewed = service.report_rejection(current["generation"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["generation"] == current["generation"] + 1


def test_health_readiness_and_metrics(service: TokenServiceProcess) -> None:
    assert requests.get(f"{service.base_url}/healthz", timeout=5).json() == {"status": "ok"}
    token(service)
    assert requests.get(f"{service.base_url}/readyz", timeout=5).status_code == 200
    text = service.metrics_text()
    for name in (
        "revizto_token_refresh_total",
        "revizto_token_refresh_failures_total",
        "revizto_token_refresh_duration_seconds",
        "revizto_access_token_expiry_timestamp_seconds",
        "revizto_token_reauth_required",
        "revizto_token_lock_wait_seconds",
        "revizto_token_persist_failures_total",
        "revizto_refresh_token_age_seconds",
    ):
        assert name in text, name
    assert service.metric("revizto_access_token_expiry_timestamp_seconds") == pytest.approx(
        token(service)["expires_at"]
    )


def test_status_command_reports_the_credential(service: TokenServiceProcess) -> None:
    generation = token(service)["generation"]
    code, out, err = service.cli("status")
    assert code == 0, err
    report = json.loads(out)
    assert report["generation"] == generation
    assert report["reauth_required"] is False
    assert 3500 < report["access_token_expires_in_seconds"] <= 3600
    assert report["refresh_token_age_seconds"] >= 0
    assert report["redis"]["ok"] is True
    assert report["appsettings"]["readable"] is True
    assert report["appsettings"]["writable"] is True
    assert report["revizto"]["ok"] is True


def test_without_redis_the_service_is_not_ready_and_says_so(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = tmp_path / "appsettings.json"
    settings.write_text(json.dumps({"ReviztoAPI": {"ApiKey": sandbox.access_code()}}))
    service = TokenServiceProcess(
        name="token-service-no-redis",
        log_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        sandbox_url=sandbox.base_url,
        appsettings_path=settings,
        secret=new_secret(),
    )
    try:
        assert requests.get(f"{service.base_url}/readyz", timeout=10).status_code == 503
        reply = service.get_token()
        assert reply.status_code == 503
        assert reply.json()["type"].endswith("/state-unavailable")
        code, out, _ = service.cli("status")
        assert code == 1
        assert json.loads(out)["redis"]["ok"] is False
    finally:
        service.stop()


def test_a_lease_shorter_than_the_worst_case_refresh_refuses_to_start(
    sandbox: SandboxProcess, tmp_path: Path, redis_url: str
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REVIZTO_BASE_URL": sandbox.base_url,
        "TOKEN_SERVICE_SECRET": new_secret(),
        "TOKEN_LOCK_LEASE_SECONDS": "5",
    }
    done = subprocess.run(
        [sys.executable, "-m", "token_service"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 78
    assert "TOKEN_LOCK_LEASE_SECONDS" in done.stderr


@pytest.mark.parametrize(
    ("path", "method", "data", "content_type", "status", "field"),
    [
        ("/v1/token/refresh", "POST", "[" * 30_000 + "]" * 30_000, "application/json", 400, "body"),
        (
            "/v1/token/refresh",
            "POST",
            "[" * 100_000 + "]" * 100_000,
            "application/json",
            413,
            "body",
        ),
        ("/v1/token/refresh", "POST", '{"generation": 1}', "text/plain", 415, "Content-Type"),
        (
            "/v1/credentials",
            "PUT",
            json.dumps({"access_code": "x" * 3_000_000}),
            "application/json",
            413,
            "body",
        ),
    ],
    ids=["nested-30k", "nested-100k", "text-plain", "3MB-access-code"],
)
def test_hostile_bodies_are_4xx_problems_and_never_reach_revizto(
    service: TokenServiceProcess,
    sandbox: SandboxProcess,
    path: str,
    method: str,
    data: str,
    content_type: str,
    status: int,
    field: str,
) -> None:
    token(service)  # the service has its first token: later token calls would be ours
    before = sandbox.stats()["token_endpoint"]
    reply = requests.request(
        method,
        service.base_url + path,
        data=data,
        headers={"Authorization": f"Bearer {service.secret}", "Content-Type": content_type},
        timeout=30,
    )
    assert reply.status_code == status, reply.text[:500]
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in reply.json()["errors"]}
    assert sandbox.stats()["token_endpoint"] == before
