"""Revizto objects as table rows: the object itself as `raw`, plus typed columns.

A value of an unexpected type never fails a sync: it stays in `raw`, its typed column is
left null, and a warning is logged once per table and column (per process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

Row = dict[str, Any]
REVIZTO_NEVER = "2000-01-01 00:00:00"  # Revizto's "never set"
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d")

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


class Unexpected(ValueError):
    """The value has a type the typed column cannot take."""


def unwrap(value: Any) -> Any:
    """Revizto wraps most issue fields as {value, timestamp}."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def text(value: Any) -> str | None:
    value = unwrap(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Unexpected(type(value).__name__)


def integer(value: Any) -> int | None:
    value = unwrap(value)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise Unexpected(type(value).__name__)


def boolean(value: Any) -> bool | None:
    value = unwrap(value)
    if value is None or isinstance(value, bool):
        return value
    raise Unexpected(type(value).__name__)


def timestamp(value: Any) -> datetime | None:
    value = unwrap(value)
    if value is None or value == "" or value == REVIZTO_NEVER:
        return None
    if isinstance(value, str):
        for pattern in _TIME_FORMATS:
            try:
                return datetime.strptime(value, pattern)
            except ValueError:
                continue
    raise Unexpected(type(value).__name__ if not isinstance(value, str) else "unparsable text")


class RowBuilder:
    """Rows for one export (its job id and time)."""

    def __init__(self, job_id: str, exported_at: datetime) -> None:
        self.job_id = job_id
        self.exported_at = exported_at

    def row(
        self,
        table: str,
        raw: dict[str, Any],
        typed: Mapping[str, tuple[Callable[[Any], Any], Any]],
    ) -> Row:
        """`typed`: column -> (converter, the value to convert)."""
        row: Row = {"raw": raw, "exported_at": self.exported_at, "job_id": self.job_id}
        for column, (convert, value) in typed.items():
            try:
                row[column] = convert(value)
            except Unexpected as exc:
                row[column] = None
                _warn_once(table, column, str(exc))
        return row


def _warn_once(table: str, column: str, found: str) -> None:
    with _warned_lock:
        if (table, column) in _warned:
            return
        _warned.add((table, column))
    log.warning(
        "unexpected value type table=%s column=%s type=%s: kept in raw, column left null",
        table,
        column,
        found,
    )
