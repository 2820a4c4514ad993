"""Worker settings and the wiring between the API's producer and the workers' queue."""

from __future__ import annotations

import pytest

from api.enqueue import PLAN_TASK, QUEUE
from worker.request import ExportRequest
from worker.settings import WorkerSettings


def test_visibility_timeout_must_outlast_the_task_time_limit() -> None:
    with pytest.raises(ValueError, match="VISIBILITY"):
        WorkerSettings.from_env(
            {"EXPORT_TASK_TIME_LIMIT_SECONDS": "600", "EXPORT_VISIBILITY_TIMEOUT_SECONDS": "600"}
        )
    settings = WorkerSettings.from_env({"EXPORT_TASK_TIME_LIMIT_SECONDS": "600"})
    assert settings.visibility_timeout > settings.task_time_limit


def test_the_api_enqueues_what_the_workers_consume() -> None:
    from worker import tasks
    from worker.celery_app import QUEUE as WORKER_QUEUE
    from worker.celery_app import app

    assert QUEUE == WORKER_QUEUE
    assert tasks.plan_export.name == PLAN_TASK
    conf = app.conf
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_export_request_defaults_and_normalisation() -> None:
    request = ExportRequest.model_validate(
        {"updated_since": "2026-03-01T12:00:00+01:00", "resources": ["comments", "issues"]}
    )
    assert request.resources == ["issues", "comments"]
    assert request.watermark() == "2026-03-01 11:00:00"
    assert ExportRequest.model_validate({}).format == "ndjson"
    assert (
        ExportRequest.model_validate({"updated_since": "2026-03-01 11:00:00"}).watermark()
        == "2026-03-01 11:00:00"
    )
