"""Real processes for benchmarks (the same helpers the tests use) and latency statistics."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxProcess
from tests.support.token_service import TokenServiceProcess, new_secret, write_appsettings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TOKEN_ROUTES = ("/v1/token", "/v1/token/refresh")


@dataclass(frozen=True)
class Latencies:
    seconds: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    # The fields after the command name, which is in parentheses and may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rxp-bench-") as name:
        yield Path(name)


@contextmanager
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def sandbox(log_dir: Path, **options: Any) -> Iterator[SandboxProcess]:
    process = SandboxProcess(log_dir, **options)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def token_services(
    count: int, log_dir: Path, redis_url: str, sandbox_process: SandboxProcess, **env: str
) -> Iterator[list[TokenServiceProcess]]:
    settings = log_dir / "appsettings.json"
    write_appsettings(settings, ApiKey=sandbox_process.access_code())
    secret = new_secret()
    services: list[TokenServiceProcess] = []
    try:
        for index in range(count):
            services.append(
                TokenServiceProcess(
                    name=f"token-service-{index}",
                    log_dir=log_dir,
                    redis_url=redis_url,
                    sandbox_url=sandbox_process.base_url,
                    appsettings_path=settings,
                    secret=secret,
                    extra_env={"TOKEN_SERVICE_THREADS": "32", **env},
                )
            )
        yield services
    finally:
        for service in services:
            service.stop()


def token_service_calls(service: TokenServiceProcess) -> float:
    """Calls of the token routes, whatever their status, from the token service's metrics."""
    total = 0.0
    for line in service.metrics_text().splitlines():
        if line.startswith("revizto_token_service_requests_total{") and any(
            f'route="{route}"' in line for route in TOKEN_ROUTES
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def report(name: str, rows: Sequence[tuple[str, str]], data: dict[str, Any]) -> None:
    """Print a small table and keep the numbers in bench/results/NAME.json."""
    width = max(len(label) for label, _ in rows)
    print(f"\n== {name}")
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
