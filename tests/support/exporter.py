"""The whole exporter as real processes: sandbox, token service, job API and Celery workers."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.support.ports import free_port
from tests.support.processes import ManagedProcess
from tests.support.sandbox import SandboxProcess
from tests.support.token_service import (
    FAST_TOKEN_ENV,
    TokenServiceProcess,
    new_secret,
    write_appsettings,
)
from tests.support.waiting import wait_until

FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


class WorkerProcess:
    """`celery -A worker.celery_app worker`, ready once its metrics port answers."""

    def __init__(self, name: str, log_dir: Path, env: dict[str, str], concurrency: int = 1) -> None:
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--loglevel", "INFO", "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.process = ManagedProcess(
            name,
            argv,
            log_dir,
            env={**env, "WORKER_METRICS_BIND": f"127.0.0.1:{self.metrics_port}"},
        )
        self.process.wait_http_ok(self.metrics_url, timeout=60)

    def pool_pids(self) -> list[int]:
        """The prefork children that run tasks."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def metrics_text(self) -> str:
        return requests.get(self.metrics_url, timeout=10).text

    def log(self) -> str:
        return self.process.output()

    def stop(self) -> None:
        self.process.stop(timeout=30)


class ExporterStack:
    def __init__(
        self,
        log_dir: Path,
        redis_url: str,
        sandbox: SandboxProcess,
        *,
        workers: int = 2,
        worker_env: dict[str, str] | None = None,
        token_env: dict[str, str] | None = None,
        beat: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.log_dir = log_dir
        self.export_dir = log_dir / "exports"
        self.api_key = secrets.token_urlsafe(24)
        self.other_key = secrets.token_urlsafe(24)
        self.admin_key = secrets.token_urlsafe(24)
        self.bare_key = secrets.token_urlsafe(24)  # named by its fingerprint
        self.workers: list[WorkerProcess] = []
        self.error_bodies: list[str] = []
        settings = log_dir / "appsettings.json"
        write_appsettings(settings, ApiKey=sandbox.access_code())
        secret = new_secret()
        self.token_service = TokenServiceProcess(
            name="token-service",
            log_dir=log_dir,
            redis_url=redis_url,
            sandbox_url=sandbox.base_url,
            appsettings_path=settings,
            secret=secret,
            extra_env={**FAST_TOKEN_ENV, **(token_env or {})},
        )
        self.env = {
            "REDIS_URL": redis_url,
            "EXPORT_DIR": str(self.export_dir),
            "TOKEN_SERVICE_URL": self.token_service.base_url,
            "TOKEN_SERVICE_SECRET": secret,
            # Three callers: this test's key, another system's, and an operator's admin key.
            "EXPORTER_API_KEYS": (
                f"other:{self.other_key},main:{self.api_key},{self.bare_key},ops:{self.admin_key}"
            ),
            "EXPORTER_ADMIN_KEYS": "ops",
            "EXPORT_RETRY_BASE_SECONDS": "0.5",
            # Dead workers are noticed in seconds, not the production two minutes.
            "EXPORT_STALL_SECONDS": "8",
            # The sandbox has no rate limit unless a test gives it one, so the cluster-wide
            # limiter is off unless a test turns it on (tests/test_rate_limit.py does).
            "REVIZTO_RATE_LIMIT_RPS": "0",
            **(worker_env or {}),
        }
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.api = ManagedProcess(
            "api",
            [sys.executable, "-m", "api"],
            log_dir,
            env={**self.env, "API_BIND": f"127.0.0.1:{api_port}"},
        )
        self.api.wait_http_ok(f"{self.api_url}/readyz")
        for index in range(workers):
            self.add_worker(f"worker{index}")
        self.beat: ManagedProcess | None = None
        if beat:
            self.beat = ManagedProcess(
                "beat",
                [
                    sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat",
                    "--loglevel", "INFO", "--schedule", str(log_dir / "beat-schedule"),
                ],
                log_dir,
                env=self.env,
            )  # fmt: skip

    def add_worker(
        self, name: str, concurrency: int = 1, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        """Another worker; `env` overrides the stack's (another host's EXPORT_DIR)."""
        worker = WorkerProcess(name, self.log_dir, {**self.env, **(env or {})}, concurrency)
        self.workers.append(worker)
        return worker

    # -- the job API ---------------------------------------------------------------------------

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", **extra}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        reply = requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)
        if not reply.ok:
            self.error_bodies.append(reply.text)
        return reply

    def submit(self, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        reply = self.call("POST", "/v1/exports", json=body or {}, headers=headers)
        assert reply.status_code == 202, reply.text
        job: dict[str, Any] = reply.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"/v1/exports/{job_id}")
        assert reply.status_code == 200, reply.text
        job: dict[str, Any] = reply.json()
        return job

    def wait_finished(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["state"] in FINISHED else None

        try:
            job: dict[str, Any] = wait_until(
                finished, timeout=timeout, interval=0.2, what=f"job {job_id} finished"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.job(job_id)}\n{self.tail_logs()}") from None
        return job

    def download(self, job_id: str, name: str) -> bytes:
        reply = self.call("GET", f"/v1/exports/{job_id}/files/{name}")
        assert reply.status_code == 200, reply.text
        return reply.content

    # -- housekeeping ----------------------------------------------------------------------------

    def logs(self) -> str:
        parts = [self.api.output(), self.token_service.log(), *(w.log() for w in self.workers)]
        if self.beat is not None:
            parts.append(self.beat.output())
        return "\n".join(parts)

    def tail_logs(self) -> str:
        return "\n".join(f"--- {w.process.name}\n{w.log()[-3000:]}" for w in self.workers)

    def stop(self) -> None:
        if self.beat is not None:
            self.beat.stop()
        for worker in self.workers:
            worker.stop()
        self.api.stop()
        self.token_service.stop()


StartStack = Callable[..., ExporterStack]
"""The `exporter_factory` fixture: starts a stack against a sandbox, with ExporterStack's
options."""


def wait_for_progress(
    stack: ExporterStack, job_id: str, resource: str, at_least: int, timeout: float = 60
) -> None:
    def progressed() -> bool:
        job = stack.job(job_id)
        if job["state"] not in ("queued", "running"):
            raise AssertionError(f"the job finished early: {job}")
        return int(job["progress"]["records"].get(resource, 0)) >= at_least

    wait_until(progressed, timeout=timeout, interval=0.05, what=f"{at_least} {resource} exported")


def ndjson(data: bytes) -> list[dict[str, Any]]:
    """Records of an exported ndjson file."""
    return [json.loads(line) for line in data.decode().splitlines()]


def exported_licence(sandbox: SandboxProcess) -> dict[str, Any]:
    """The sandbox licence an export covers (the one neither frozen nor without API access)."""
    licence: dict[str, Any] = next(
        lic for lic in sandbox.catalog()["licenses"] if lic["api_access"] and not lic["frozen"]
    )
    return licence


def exported_projects(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    projects: list[dict[str, Any]] = exported_licence(sandbox)["projects"]
    return projects


def assert_complete_and_unique(stack: ExporterStack, job: dict[str, Any]) -> None:
    """Every issue and comment the sandbox holds is in the job's files exactly once."""
    for project in exported_projects(stack.sandbox):
        key = project["uuid"].replace("-", "")
        issues = ndjson(stack.download(job["id"], f"issues-{key}.ndjson"))
        assert sorted(i["id"] for i in issues) == list(range(1, project["issues"] + 1))
        comments = ndjson(stack.download(job["id"], f"comments-{key}.ndjson"))
        uuids = [c["comment"]["uuid"] for c in comments]
        assert len(uuids) == len(set(uuids)) == project["comments"]
