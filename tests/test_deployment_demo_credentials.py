"""docker/demo_credentials.py, the demo profile's one-shot that installs a sandbox access
code in the token service, run against a real sandbox and token service; and the compose
host names the containers call each other by."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.processes import REPO_ROOT
from tests.support.sandbox import SandboxProcess, issued_secrets
from tests.support.token_service import (
    FAST_TOKEN_ENV,
    TokenServiceProcess,
    new_secret,
    token,
)

SCRIPT = REPO_ROOT / "docker" / "demo_credentials.py"


@pytest.fixture
def service_without_credentials(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> Iterator[TokenServiceProcess]:
    """What the demo starts: REVIZTO_BASE_URL set, and an empty demo-config directory."""
    config = tmp_path / "config"
    config.mkdir()
    service = TokenServiceProcess(
        name="token-service",
        log_dir=tmp_path,
        redis_url=redis_url,
        sandbox_url=sandbox.base_url,
        appsettings_path=config / "appsettings.json",
        secret=new_secret(),
        extra_env=FAST_TOKEN_ENV,
    )
    yield service
    service.stop()
    seen = "\n".join([service.log(), *service.error_bodies, *service.cli_outputs])
    leaked = [s[:12] for s in issued_secrets(sandbox) if s in seen]
    assert not leaked, f"secrets leaked (prefixes): {leaked}"


def install(
    sandbox: SandboxProcess, service: TokenServiceProcess, secret: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--sandbox-url",
            sandbox.base_url,
            "--token-service-url",
            service.base_url,
            "--wait",
            "20",
        ],
        env={"TOKEN_SERVICE_SECRET": secret or service.secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # The fixture's leak check reads these: no code or token may be printed.
    service.cli_outputs += [done.stdout, done.stderr]
    return done


def test_a_token_service_without_credentials_gets_working_ones(
    sandbox: SandboxProcess, service_without_credentials: TokenServiceProcess
) -> None:
    service = service_without_credentials
    assert service.get_token().status_code == 503  # re-authentication required
    done = install(sandbox, service)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("demo credentials installed generation=")
    assert token(service)["access_token"]
    # ...and the token service mirrored them into its (demo-config) directory.
    appsettings = Path(service.env["APPSETTINGS_PATH"])
    assert json.loads(appsettings.read_text())["ReviztoAPI"]["RefreshToken"]
    assert stat.S_IMODE(appsettings.stat().st_mode) == 0o600


def test_running_it_again_replaces_the_credential(
    sandbox: SandboxProcess, service_without_credentials: TokenServiceProcess
) -> None:
    """Every `up` of the demo profile runs it, also when the credential still works."""
    service = service_without_credentials
    assert install(sandbox, service).returncode == 0
    first = token(service)["generation"]
    assert install(sandbox, service).returncode == 0
    assert token(service)["generation"] > first


def test_a_wrong_secret_fails_at_once_without_retrying(
    sandbox: SandboxProcess, service_without_credentials: TokenServiceProcess
) -> None:
    done = install(sandbox, service_without_credentials, secret="not-the-shared-secret")
    assert done.returncode == 1
    assert "refused" in done.stderr
    assert "HTTP 401" in done.stderr


def test_the_token_service_answers_requests_for_its_compose_host_name(
    sandbox: SandboxProcess, service_without_credentials: TokenServiceProcess
) -> None:
    """Callers use http://token_service:8081; an underscore is not a valid DNS host name,
    and a Host header validator that rejected it would break every container's calls."""
    service = service_without_credentials
    assert install(sandbox, service).returncode == 0
    reply = requests.get(
        f"{service.base_url}/v1/token",
        headers={"Host": "token_service:8081", "Authorization": f"Bearer {service.secret}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
