"""A real `celery worker` on its own, without sandbox, token service or API: for what a
worker does by itself (start-up, health, shutdown, events, logs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.exporter import WorkerProcess
from tests.support.processes import REPO_ROOT

# Never used to reach anything: tasks that need tokens are not run by these tests.
UNUSED_TOKEN_SERVICE = "http://127.0.0.1:9"


def worker_env(redis_url: str, directory: Path, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "EXPORT_DIR": str(directory / "exports"),
        "TOKEN_SERVICE_URL": UNUSED_TOKEN_SERVICE,
        "TOKEN_SERVICE_SECRET": "bare-worker-secret-0123456789",
        "REVIZTO_RATE_LIMIT_RPS": "0",
        **extra,
    }


def start_worker(
    redis_url: str, directory: Path, name: str = "worker", concurrency: int = 1, **env: str
) -> WorkerProcess:
    """Started and ready (its metrics port answers); the caller stops it."""
    return WorkerProcess(name, directory, worker_env(redis_url, directory, **env), concurrency)


def send_retention_task(redis_url: str) -> str:
    """Send the retention task as the API or beat would: through worker.celery_app's app,
    in a process of its own (its broker is REDIS_URL at import). Returns the task id."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from jobs.dispatch import QUEUE, RETENTION_TASK\n"
            "from worker.celery_app import app\n"
            "print(app.send_task(RETENTION_TASK, queue=QUEUE).id)",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()[-1]
