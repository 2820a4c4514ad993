"""Celery's loggers in LOG_FORMAT, masked: workers and beat configure their own logging.

Celery gives the root logger and its task logger (`celery.task`, which does not
propagate) handlers of its own; worker.celery_app hands each to `adopt` from Celery's
after_setup_logger / after_setup_task_logger signals.
"""

from __future__ import annotations

import logging

from service_common.logging import JSON, configure_logging, formatter, log_format
from service_common.redaction import install_masking


def before_celery_logging() -> None:
    """With LOG_FORMAT=json, log JSON from the very start of `celery worker` / `beat`.

    Celery sets up its logging only part-way through its start, and warns (privileges,
    settings) before that, through Python's warnings, which print plain text to stderr.
    Until Celery's handlers replace it, a JSON handler of ours takes both. Text logs keep
    Celery's behaviour as it is.
    """
    if log_format() == JSON:
        # Warnings only: Celery's --loglevel applies once its own logging is set up.
        configure_logging("WARNING")
        install_masking()
        logging.captureWarnings(True)


class TaskFields(logging.Filter):
    """Adds the running task's id and name to a record logged inside a task (ours and
    Celery's), as Celery's task formatter does in text; in JSON they become fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery._state import get_current_task

        task = get_current_task()
        if task is not None and task.request.id is not None:
            record.task_id = task.request.id
            record.task_name = task.name
        return True


def adopt(logger: logging.Logger) -> None:
    """Give `logger`'s handlers the LOG_FORMAT formatter (text keeps Celery's own), then
    mask what they write."""
    if log_format() == JSON:
        for handler in logger.handlers:
            handler.setFormatter(formatter(JSON))
            if not any(isinstance(f, TaskFields) for f in handler.filters):
                handler.addFilter(TaskFields())
    # Workers never log tokens; the masking formatter makes sure a library can't either.
    install_masking(logger)
