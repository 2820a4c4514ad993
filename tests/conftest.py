"""Fixtures shared by the whole suite: a private Redis, real processes, ../shared paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.processes import REPO_ROOT
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxFactory, SandboxProcess, issued_secrets
from tests.support.token_service import (
    FAST_TOKEN_ENV,
    StartService,
    TokenServiceProcess,
    new_secret,
    write_appsettings,
)

SHARED_DIR = REPO_ROOT.parent / "shared"
REAL_ISSUES_FIXTURE = SHARED_DIR / "fixtures" / "revizto" / "issues_real_sample.json"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    """One private redis-server for the session (never the shared one on 6379)."""
    server = PrivateRedis()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: PrivateRedis) -> Iterator[str]:
    """A Redis URL whose database starts empty for every test."""
    client = redis.Redis.from_url(redis_server.url())
    client.flushall()
    yield redis_server.url()
    client.flushall()
    client.close()


@pytest.fixture(scope="session")
def real_issues_fixture() -> Path:
    """The captured real issues; skipped with a reason only where ../shared is absent."""
    if not REAL_ISSUES_FIXTURE.is_file():
        pytest.skip(f"real issue captures not found at {REAL_ISSUES_FIXTURE}")
    return REAL_ISSUES_FIXTURE


# --- the sandbox (fake Revizto) ------------------------------------------------------------


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[SandboxFactory]:
    """Start `python -m sandbox` with CLI options (`seed=3`, `token_lifetime=1`, ...)."""
    started: list[SandboxProcess] = []

    def start(**options: Any) -> SandboxProcess:
        process = SandboxProcess(tmp_path, name=f"sandbox-{len(started)}", **options)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxProcess:
    """A sandbox with default data and no faults."""
    return sandbox_factory()


# --- the token service ----------------------------------------------------------------------


@pytest.fixture
def start_service(tmp_path: Path, redis_url: str) -> Iterator[StartService]:
    """Start token-service processes sharing one Redis and one appsettings.json."""
    started: list[TokenServiceProcess] = []
    sandboxes: list[SandboxProcess] = []
    secret = new_secret()

    def start(
        sandbox: SandboxProcess, appsettings: Path | None = None, **env: str
    ) -> TokenServiceProcess:
        if sandbox not in sandboxes:
            sandboxes.append(sandbox)
        path = appsettings or tmp_path / "appsettings.json"
        if not path.exists():
            write_appsettings(path, ApiKey=sandbox.access_code())
        service = TokenServiceProcess(
            name=f"token-service-{len(started)}",
            log_dir=tmp_path,
            redis_url=redis_url,
            sandbox_url=sandbox.base_url,
            appsettings_path=path,
            secret=secret,
            extra_env={**FAST_TOKEN_ENV, **env},
        )
        started.append(service)
        return service

    yield start
    leaks = []
    for service in started:
        metrics = service.metrics_text() if service.process.alive() else ""
        service.stop()
        seen = "\n".join([service.log(), metrics, *service.error_bodies, *service.cli_outputs])
        for sandbox in sandboxes:
            leaks += [s[:12] for s in issued_secrets(sandbox) if s in seen]
    # Guarantee 10: no token or code issued by Revizto appears in logs, metrics or errors.
    assert not leaks, f"secrets leaked (prefixes): {leaks}"
