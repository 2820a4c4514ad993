"""Revizto's timestamp text: "YYYY-MM-DD HH:MM:SS" in UTC, with 2000-01-01 meaning never."""

from __future__ import annotations

import calendar
import time

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
# Revizto writes this where a value was never set or a field never changed.
NEVER = "2000-01-01 00:00:00"


def format_timestamp(epoch: float) -> str:
    """Whole-second UTC text for a unix time.

    >>> format_timestamp(0)
    '1970-01-01 00:00:00'
    """
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(int(epoch)))


def parse_timestamp(text: str) -> int:
    """Unix seconds for "YYYY-MM-DD HH:MM:SS" or a bare "YYYY-MM-DD" (UTC); ValueError otherwise.

    >>> parse_timestamp("1970-01-02")
    86400
    """
    text = text.strip()
    fmt = DATE_FORMAT if len(text) == 10 else TIMESTAMP_FORMAT
    return calendar.timegm(time.strptime(text, fmt))


def now_epoch() -> int:
    """The current unix time in whole seconds, the resolution Revizto reports."""
    return int(time.time())
