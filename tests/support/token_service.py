"""A real `python -m token_service` process for tests, and a small client for its API."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ManagedProcess

# Short timeouts and lease so a crashed refresher is detected within seconds, while the
# lease still exceeds the worst-case refresh (the service refuses to start otherwise).
FAST_TOKEN_ENV = {
    "REVIZTO_TOKEN_CONNECT_TIMEOUT": "1",
    "REVIZTO_TOKEN_READ_TIMEOUT": "3",
    "REVIZTO_TOKEN_INITIAL_BACKOFF_SECONDS": "0.1",
    "REVIZTO_TOKEN_MAX_BACKOFF_SECONDS": "0.3",
    "REVIZTO_TOKEN_RETRY_AFTER_CAP_SECONDS": "0.5",
    "TOKEN_LOCK_LEASE_SECONDS": "15",
    "TOKEN_LOCK_WAIT_SECONDS": "10",
}


class TokenServiceProcess:
    def __init__(
        self,
        *,
        name: str,
        log_dir: Path,
        redis_url: str,
        sandbox_url: str,
        appsettings_path: Path,
        secret: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.secret = secret
        self.env = {
            "REDIS_URL": redis_url,
            "REVIZTO_BASE_URL": sandbox_url,
            "APPSETTINGS_PATH": str(appsettings_path),
            "TOKEN_SERVICE_SECRET": secret,
            "TOKEN_SERVICE_BIND": f"127.0.0.1:{self.port}",
            **(extra_env or {}),
        }
        self.process = ManagedProcess(
            name, [sys.executable, "-m", "token_service"], log_dir, env=self.env
        )
        self.process.wait_http_ok(f"{self.base_url}/healthz")
        self.error_bodies: list[str] = []
        self.cli_outputs: list[str] = []

    # -- the internal API ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def _keep_errors(self, response: requests.Response) -> requests.Response:
        if not response.ok:
            self.error_bodies.append(response.text)
        return response

    def get_token(self, timeout: float = 30) -> requests.Response:
        return self._keep_errors(
            requests.get(f"{self.base_url}/v1/token", headers=self._headers(), timeout=timeout)
        )

    def report_rejection(self, generation: int, timeout: float = 30) -> requests.Response:
        return self._keep_errors(
            requests.post(
                f"{self.base_url}/v1/token/refresh",
                headers=self._headers(),
                json={"generation": generation},
                timeout=timeout,
            )
        )

    def put_credentials(self, body: dict[str, Any]) -> requests.Response:
        return self._keep_errors(
            requests.put(
                f"{self.base_url}/v1/credentials", headers=self._headers(), json=body, timeout=30
            )
        )

    def metrics_text(self) -> str:
        return requests.get(f"{self.base_url}/metrics", timeout=10).text

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample (by full sample name and labels), or None if absent."""
        return next(self._samples(name, labels), None)

    def metric_total(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` with `labels`, whatever its other labels."""
        return sum(self._samples(name, labels))

    def _samples(self, name: str, labels: dict[str, str]) -> Iterator[float]:
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    yield float(sample.value)

    def cli(self, *args: str, timeout: float = 60) -> tuple[int, str, str]:
        """Run `python -m token_service ARGS` with this service's environment."""
        done = subprocess.run(
            [sys.executable, "-m", "token_service", *args],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.cli_outputs += [done.stdout, done.stderr]
        return done.returncode, done.stdout, done.stderr

    def log(self) -> str:
        return self.process.output()

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        self.process.stop()


def run_token_service(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m token_service ARGS` to its end, with `env` on top of this process's
    (a value of "" removes the variable)."""
    merged = {**os.environ, **env}
    for name in [name for name, value in env.items() if value == ""]:
        merged.pop(name)
    return subprocess.run(
        [sys.executable, "-m", "token_service", *args],
        cwd=REPO_ROOT,
        env=merged,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def write_appsettings(path: Path, **revizto_api: str) -> None:
    """An appsettings.json in the seed's structure, plus an unknown key to be preserved."""
    document = {
        "ReviztoAPI": {"BaseUrl": "https://api.virginia.revizto.com", **revizto_api},
        "Logging": {"LogLevel": {"Default": "Information"}},
    }
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)


StartService = Callable[..., TokenServiceProcess]


def token(service: TokenServiceProcess) -> dict[str, Any]:
    """GET /v1/token, which must succeed."""
    response = service.get_token()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
