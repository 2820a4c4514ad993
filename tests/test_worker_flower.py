"""Flower, the ops profile's Celery dashboard, run against our app as compose runs it: it
sees the workers and follows their tasks through the task events, behind basic auth."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from tests.support.bare_worker import send_retention_task, start_worker
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess
from tests.support.redis_server import PrivateRedis
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

LOGIN = ("operator", "flower-test-password-42")


def test_flower_shows_the_workers_and_their_tasks_only_to_a_login(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    worker = start_worker(redis_server.url(), tmp_path, name="flowerwatched")
    port = free_port()
    argv = [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower",
        f"--port={port}", "--address=127.0.0.1",
    ]  # fmt: skip
    flower = ManagedProcess(
        "flower",
        argv,
        tmp_path,
        env={"REDIS_URL": redis_server.url(), "FLOWER_BASIC_AUTH": ":".join(LOGIN)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # The compose health check's URL; it answers without a login.
        flower.wait_http_ok(f"{base}/healthcheck", timeout=60)
        assert requests.get(f"{base}/api/workers", timeout=10).status_code == 401

        def workers() -> dict[str, object]:
            reply = requests.get(f"{base}/api/workers?refresh=1", auth=LOGIN, timeout=30)
            reply.raise_for_status()
            names: dict[str, object] = reply.json()
            return names

        wait_until(
            lambda: any(name.startswith("flowerwatched@") for name in workers()),
            timeout=60,
            interval=1,
            what="Flower lists the worker",
        )
        task_id = send_retention_task(redis_server.url())

        def task_state() -> str | None:
            reply = requests.get(f"{base}/api/tasks", auth=LOGIN, timeout=10)
            reply.raise_for_status()
            task = reply.json().get(task_id)
            return task.get("state") if task else None

        wait_until(
            lambda: task_state() == "SUCCESS",
            timeout=60,
            interval=0.5,
            what="Flower follows the task to SUCCESS through its events",
        )
    finally:
        flower.stop()
        worker.stop()
