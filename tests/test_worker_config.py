"""Worker settings and the wiring between the API's producer and the workers' queue."""

from __future__ import annotations

import pytest

from jobs import dispatch
from jobs.request import ExportRequest
from worker.settings import WorkerSettings


def test_settings_refuse_what_is_not_a_positive_number() -> None:
    for name, value in [
        ("EXPORT_STALL_SECONDS", "0"),
        ("EXPORT_PROJECT_RETRY_WINDOW_SECONDS", "soon"),
        ("EXPORT_RETENTION_DAYS", "-1"),
        ("EXPORT_VISIBILITY_TIMEOUT_SECONDS", "1.5"),
    ]:
        with pytest.raises(ValueError, match=name):
            WorkerSettings.from_env({name: value})
    settings = WorkerSettings.from_env(
        {"EXPORT_STALL_SECONDS": "8", "EXPORT_RETENTION_DAYS": "0.5"}
    )
    assert settings.stall_seconds == 8
    assert settings.retention_days == 0.5
    # Several heartbeats per stall timeout, so one late beat never looks like a death
    assert settings.heartbeat_interval == 2


def test_every_task_the_dispatcher_sends_is_one_the_workers_have() -> None:
    from worker import tasks
    from worker.celery_app import app

    for name in (
        dispatch.PLAN_TASK,
        dispatch.PROJECT_TASK,
        dispatch.PUBLISH_TASK,
        dispatch.DELIVER_TASK,
        dispatch.RETENTION_TASK,
    ):
        assert name in app.tasks, name
    assert tasks.plan_export.name == dispatch.PLAN_TASK
    conf = app.conf
    assert conf.task_default_queue == dispatch.QUEUE
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.beat_schedule["apply-retention"]["task"] == dispatch.RETENTION_TASK


def test_export_request_defaults_and_normalisation() -> None:
    request = ExportRequest.model_validate(
        {"updated_since": "2026-03-01T12:00:00+01:00", "resources": ["comments", "issues"]}
    )
    assert request.resources == ["issues", "comments"]
    assert request.watermark() == "2026-03-01 11:00:00"
    assert request.as_record()["updated_since"] == "2026-03-01T11:00:00Z"
    assert ExportRequest.model_validate({}).format == "ndjson"
    assert (
        ExportRequest.model_validate({"updated_since": "2026-03-01 11:00:00"}).watermark()
        == "2026-03-01 11:00:00"
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https://user:pw@hooks.example.com/",
        "http://",
    ],
)
def test_a_notify_url_must_be_a_plain_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="notify_url"):
        ExportRequest.model_validate({"notify_url": url})


def test_a_webhook_secret_not_in_the_whsec_form_is_refused_at_start() -> None:
    from api.settings import ApiSettings

    for secret in ("not-whsec", "whsec_***"):
        with pytest.raises(ValueError, match="EXPORT_WEBHOOK_SECRET"):
            WorkerSettings.from_env({"EXPORT_WEBHOOK_SECRET": secret})
        with pytest.raises(ValueError, match="EXPORT_WEBHOOK_SECRET"):
            ApiSettings.from_env({"EXPORT_WEBHOOK_SECRET": secret, "EXPORTER_API_KEYS": "k" * 16})
    good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    secret = WorkerSettings.from_env({"EXPORT_WEBHOOK_SECRET": good}).webhook_secret
    assert secret.get_secret_value() == good
