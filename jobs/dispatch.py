"""Dispatcher: sends the tasks that carry a job forward, by name, over any Celery app.

The API (a producer that must not import the worker) and the workers both send tasks;
the names, the queue and the arguments of each unit's task are defined here only once.
"""

from __future__ import annotations

from typing import Any, Protocol

from jobs.model import ACCOUNT_UNIT, PROJECT_UNIT_PREFIX, Job, ProjectRef

QUEUE = "exports"
PLAN_TASK = "worker.tasks.plan_export"
PROJECT_TASK = "worker.tasks.export_project"
PUBLISH_TASK = "worker.tasks.publish_job"
DELIVER_TASK = "worker.tasks.deliver_notification"
RETENTION_TASK = "worker.tasks.apply_retention"


class Sender(Protocol):
    """What Dispatcher needs of a Celery app (`celery.Celery.send_task`)."""

    def send_task(self, name: str, args: Any = ..., **options: Any) -> Any: ...


class Dispatcher:
    def __init__(self, app: Sender) -> None:
        self._app = app

    def _send(self, name: str, *args: Any) -> None:
        self._app.send_task(
            name, args=list(args), queue=QUEUE, retry=True, retry_policy={"max_retries": 2}
        )

    def plan(self, job_id: str) -> None:
        """The account unit: plans the job, fans out its projects, writes account files."""
        self._send(PLAN_TASK, job_id)

    def project(self, job_id: str, project: ProjectRef) -> None:
        self._send(PROJECT_TASK, job_id, project.to_json())

    def unit(self, job: Job, unit: str) -> None:
        """Whichever task runs `unit` of `job`."""
        if unit == ACCOUNT_UNIT:
            self.plan(job.id)
            return
        found = job.unit(unit)
        if not unit.startswith(PROJECT_UNIT_PREFIX) or found is None or found.project is None:
            raise ValueError(f"job {job.id} has no unit {unit!r}")
        self.project(job.id, found.project)

    def publish(self, job_id: str) -> None:
        """Write a finished job's manifest and queue its webhook."""
        self._send(PUBLISH_TASK, job_id)

    def deliver(self, job_id: str, notification_id: str) -> None:
        self._send(DELIVER_TASK, job_id, notification_id)
