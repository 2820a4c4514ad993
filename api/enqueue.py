"""Send export tasks to the workers without importing the worker (and its side effects)."""

from __future__ import annotations

from celery import Celery

PLAN_TASK = "worker.tasks.plan_export"
QUEUE = "exports"  # worker.celery_app.QUEUE; a test checks that the two agree


class TaskQueue:
    def __init__(self, broker_url: str) -> None:
        self._app = Celery("revizto_exporter_api", broker=broker_url)
        self._app.conf.update(
            task_serializer="json",
            accept_content=["json"],
            broker_connection_retry_on_startup=True,
            broker_connection_timeout=5,
        )

    def submit(self, job_id: str) -> None:
        self._app.send_task(
            PLAN_TASK, args=[job_id], queue=QUEUE, retry=True, retry_policy={"max_retries": 2}
        )
