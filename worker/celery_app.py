"""The Celery application of the export workers: `celery -A worker.celery_app worker`,
and of the scheduler of periodic work: `celery -A worker.celery_app beat`.

Reliability settings, each chosen for long, unattended exports:
  * task_acks_late + task_reject_on_worker_lost: a task is acknowledged only when it
    finished, so a pool process killed mid-project puts the task back on the queue and
    another worker resumes that project from its last checkpoint.
  * worker_prefetch_multiplier=1: a worker holds one task at a time; a big job's
    projects spread over every worker instead of queueing behind one.
  * visibility_timeout: Redis redelivers an unacknowledged task after it. A unit that is
    still running is never run twice (its task claims it first, and its owner
    heartbeats), so the timeout can be shorter than the longest task; it bounds how long
    a task reserved by a dead worker waits. A running unit whose worker died is found by
    the reaper (worker/reaper.py) within EXPORT_STALL_SECONDS instead.
  * JSON serialisation only: nothing pickled crosses the broker.
  * worker_cancel_long_running_tasks_on_connection_loss: when the broker connection
    drops, running tasks are cancelled (and redelivered) rather than finishing
    unacknowledged and being run twice.
  * worker_soft_shutdown_timeout: on a cold shutdown, running tasks get this long to
    finish; then they are requeued. A plain SIGTERM is Celery's warm shutdown, which
    waits for running tasks however long they take, so containers set
    REMAP_SIGTERM=SIGQUIT (docker-compose.yml): SIGTERM then means "soft shutdown, then
    requeue", and the container's stop grace period must exceed this timeout.
  * worker_enable_soft_shutdown_on_idle stays off: with it, Celery sleeps the whole soft
    shutdown timeout even when no task runs, so every stop or scale-down of an idle worker
    took 60 s. It exists for reserved ETA/countdown tasks, which nothing here sends.
  * Task events (worker_send_task_events, task_send_sent_event): Flower and
    celery-exporter follow tasks through them; a few small messages per task.

Only the `celery worker` and `celery beat` programs (worker/programs.py) set up anything
at start; importing this module (the API, `celery inspect`, Flower) changes nothing.
"""

from __future__ import annotations

import logging
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from jobs.dispatch import QUEUE, RETENTION_TASK, Dispatcher
from service_common.configuration_error import ConfigurationError, report_configuration_error
from worker.broker_health import BrokerWatch
from worker.log_setup import adopt
from worker.metrics_server import process_exited, remove_multiprocess_dir, start_metrics_server
from worker.settings import WorkerSettings

SOFT_SHUTDOWN_SECONDS = 60.0

try:
    settings = WorkerSettings.from_env()
except ConfigurationError as _error:
    # Celery would print the import's traceback; an operator needs the one line, and a
    # supervisor the EX_CONFIG status that says "do not restart, fix the settings".
    raise SystemExit(report_configuration_error(_error)) from None


class ExporterCelery(Celery):  # type: ignore[misc]  # Celery ships no type hints
    """Celery whose `celery worker` and `celery beat` programs are ours (worker/programs.py);
    named by string, so importing the app does not import them."""

    @cached_property
    def Worker(self) -> Any:
        return self.subclass_with_self("worker.programs:ExporterWorker")

    @cached_property
    def Beat(self) -> Any:
        return self.subclass_with_self("worker.programs:ExporterBeat")


app = ExporterCelery("revizto_exporter", broker=settings.redis_url, include=["worker.tasks"])
dispatcher = Dispatcher(app)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,  # job state lives in the job record, never in Celery results
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    worker_prefetch_multiplier=1,
    task_time_limit=settings.task_time_limit,
    task_soft_time_limit=max(1, settings.task_time_limit - 30),
    broker_transport_options={"visibility_timeout": settings.visibility_timeout},
    broker_connection_retry_on_startup=True,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_soft_shutdown_timeout=SOFT_SHUTDOWN_SECONDS,
    worker_enable_soft_shutdown_on_idle=False,
    worker_send_task_events=True,
    task_send_sent_event=True,
    task_default_queue=QUEUE,
    # Celery beat: retention. Its schedule file goes where a read-only image can write.
    beat_schedule={
        "apply-retention": {"task": RETENTION_TASK, "schedule": settings.retention_interval}
    },
    beat_schedule_filename=str(Path(tempfile.gettempdir()) / "revizto-exporter-beat-schedule"),
)

log = logging.getLogger(__name__)


@worker_init.connect
def _refuse_to_start_misconfigured(**_: Any) -> None:
    # Checked when a worker starts, not at import: the API and tests import this module.
    if not settings.token_service_secret.get_secret_value():
        missing = ConfigurationError(
            "TOKEN_SERVICE_SECRET is required: workers get their tokens with it"
        )
        raise SystemExit(report_configuration_error(missing))


@worker_init.connect
def _migrate_databases(**_: Any) -> None:
    """Bring every database destination to the newest schema before taking work; a
    migration that fails stops the worker, an unreachable database is migrated later, on
    first use."""
    from dbsync.databases import Engines
    from dbsync.migrate import DestinationUnavailable, MigrationFailed, ensure_schema

    engines = Engines(settings.databases())  # EXPORT_DATABASES was checked with the settings
    client = redis.Redis.from_url(settings.redis_url)
    try:
        for name in engines.names():
            try:
                ensure_schema(engines.engine(name), name, client)
            except DestinationUnavailable as exc:
                log.warning("%s; its schema is brought up to date on first use", exc)
            except MigrationFailed as exc:
                raise SystemExit(f"{exc}: the worker stops; fix the database and restart") from None
    finally:
        engines.dispose()  # no connection crosses the fork into the pool
        client.close()


@after_setup_logger.connect
def _format_and_mask_logs(logger: logging.Logger, **_: Any) -> None:
    adopt(logger)


@after_setup_task_logger.connect
def _format_and_mask_task_logs(logger: logging.Logger, **_: Any) -> None:
    adopt(logger)


# The main process's broker check, behind the health check's /healthz.
_broker_watch: BrokerWatch | None = None


@worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    global _broker_watch
    _broker_watch = BrokerWatch(settings.redis_url)
    _broker_watch.start()
    try:
        start_metrics_server(settings.metrics_bind, _broker_watch.status)
    except OSError as exc:
        log.error("worker metrics server not started bind=%s error=%s", settings.metrics_bind, exc)


@worker_shutdown.connect
def _stop_serving_metrics(**_: Any) -> None:
    if _broker_watch is not None:
        _broker_watch.stop()
    remove_multiprocess_dir()


# The reaper of this worker process (worker/reaper.py), once the worker is ready.
_reaper: Any = None


@beat_init.connect
def _beat_alive(**_: Any) -> None:
    from worker.beat_health import keep_alive

    keep_alive(settings.redis_url)


@worker_ready.connect
def _start_reaper(**_: Any) -> None:
    # Imported here: the reaper's metrics must load after the multiprocess setup above.
    from worker.context import context
    from worker.reaper import Reaper

    ctx = context(settings, dispatcher)
    global _reaper
    _reaper = Reaper(
        ctx.jobs,
        dispatcher,
        stall_seconds=settings.stall_seconds,
        interval=settings.heartbeat_interval,
    )
    _reaper.start()
    log.info(
        "reaper started stall_s=%.0f interval_s=%.1f", settings.stall_seconds, _reaper.interval
    )


@worker_shutdown.connect
def _stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop()


@worker_process_shutdown.connect
def _forget_dead_child(pid: int | None = None, **_: Any) -> None:
    if pid is not None:
        process_exited(pid)
