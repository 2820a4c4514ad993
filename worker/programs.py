"""Our `celery worker` and `celery beat` programs: Celery's, plus what only they may do.

worker.celery_app makes `app.Worker` and `app.Beat` these classes, so this runs only in
the process that `celery ... worker` or `celery ... beat` starts, never where the app is
merely imported (the API, `celery inspect`, Flower).
"""

from __future__ import annotations

from typing import Any

from celery.apps.beat import Beat
from celery.apps.worker import Worker

from service_common.logging import JSON, log_format
from worker.log_setup import before_celery_logging
from worker.metrics_server import prepare_multiprocess_dir


class ExporterWorker(Worker):  # type: ignore[misc]  # Celery ships no type hints
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before Celery's own __init__: it imports the task modules, which create metrics.
        json_logs = log_format() == JSON
        before_celery_logging()
        prepare_multiprocess_dir()
        # The banner is multi-line art on stdout: in a JSON log stream, noise a log
        # pipeline cannot parse. Celery logs the same facts ("Connected to", "ready").
        kwargs["quiet"] = kwargs.get("quiet") or json_logs
        super().__init__(*args, **kwargs)


class ExporterBeat(Beat):  # type: ignore[misc]  # Celery ships no type hints
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["quiet"] = kwargs.get("quiet") or log_format() == JSON
        before_celery_logging()
        super().__init__(*args, **kwargs)
