"""Process-wide logging setup: one event per line, UTC timestamps, text or JSON.

LOG_FORMAT picks the shape of every service's log lines: `text` (the default) is
`timestamp level logger message`; `json` is one JSON object per line with `timestamp`
(UTC, ISO 8601), `level`, `logger`, `message` and any `extra` fields, for log pipelines
that index fields. Either way tokens are masked (service_common/redaction.py) before a
line is written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

from pythonjsonlogger.json import JsonFormatter

from service_common.redaction import SECRETS, SecretRegistry

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
TEXT, JSON = "text", "json"
FORMATS = (TEXT, JSON)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EX_CONFIG = 78  # what every service exits with on a configuration error


def log_format() -> str:
    """LOG_FORMAT from the environment (empty: text); anything else stops the process.

    Read here rather than in each service's settings: logging is set up before settings
    are parsed, so a settings error can itself be logged in the chosen format. SystemExit,
    not an exception: there is no logging yet to report one with.
    """
    value = os.environ.get("LOG_FORMAT", "").strip().lower() or TEXT
    if value not in FORMATS:
        _refuse(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {value!r}")
    return value


def log_level(default: str = "INFO") -> str:
    """LOG_LEVEL from the environment (empty: `default`), as a level name logging knows;
    anything else stops the process, as LOG_FORMAT does."""
    value = os.environ.get("LOG_LEVEL", "").strip().upper() or default
    if value not in LEVELS:
        _refuse(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, not {value!r}")
    return value


def _refuse(problem: str) -> NoReturn:
    print(f"configuration error: {problem}", file=sys.stderr)
    raise SystemExit(EX_CONFIG)


class RedactingJsonFormatter(JsonFormatter):
    """A JSON object per record; every string in it is masked before it is encoded.

    Masking the fields, not only the finished line: JSON escapes some characters, so a
    secret could be written in a form a mask of the raw value no longer matches.
    """

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
        )
        self._registry = registry

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # First, so every line starts with when it happened.
        log_data["timestamp"] = (
            datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        super().add_fields(log_data, record, message_dict)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = self._mask(log_data)
        return masked

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._registry.mask(value)
        if isinstance(value, dict):
            return {key: self._mask(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._mask(item) for item in value]
        return value  # numbers, booleans, None; any other object is masked as text after


def formatter(kind: str | None = None) -> logging.Formatter:
    """The formatter of LOG_FORMAT (or `kind`), for handlers set up elsewhere (Celery's)."""
    if (kind or log_format()) == JSON:
        return RedactingJsonFormatter()
    text = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ")
    text.converter = time.gmtime
    return text


def configure_logging(level: str | None = None) -> None:
    """Log to stderr at `level`, else LOG_LEVEL (default INFO), in LOG_FORMAT; safe to
    call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or log_level())
    # waitress logs every queue-depth warning at WARNING; keep them, but not its INFO chatter.
    logging.getLogger("waitress").setLevel(logging.WARNING)
    # uvicorn (the token service) likewise: its start and stop lines repeat our own.
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
