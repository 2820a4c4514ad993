"""Fixtures shared by the whole suite: a private Redis, real processes, ../shared paths."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.exporter import ExporterStack
from tests.support.moto_server import MotoServer
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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One real S3-protocol server (moto) for the session; each test makes its own bucket."""
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: PrivateRedis) -> Iterator[str]:
    """A Redis URL whose database (db 0) starts empty for every test; module-scoped stacks
    use other databases, so they survive."""
    client = redis.Redis.from_url(redis_server.url())
    client.flushdb()
    yield redis_server.url()
    client.flushdb()
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


# --- the whole exporter ----------------------------------------------------------------------


@pytest.fixture
def exporter_factory(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., ExporterStack]]:
    """Start token service, job API and workers against a sandbox; checks for leaks after."""
    stacks: list[ExporterStack] = []

    def start(
        sandbox: SandboxProcess, *, redis_url: str = redis_url, **options: Any
    ) -> ExporterStack:
        directory = tmp_path / f"stack{len(stacks)}"
        directory.mkdir()
        stack = ExporterStack(directory, redis_url, sandbox, **options)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stop_and_check_for_leaks(stack)


def stop_and_check_for_leaks(stack: ExporterStack) -> None:
    """Stop the stack; then no secret the sandbox issued may appear in any log or error."""
    stack.stop()
    seen = "\n".join([stack.logs(), *stack.error_bodies, *stack.token_service.error_bodies])
    leaked = [s[:12] for s in issued_secrets(stack.sandbox) if s in seen]
    assert not leaked, f"secrets leaked (prefixes): {leaked}"
