"""Every timestamp the service shows is RFC 3339 UTC with second precision
(`2026-11-30T17:23:26Z`); internally, moments are epoch seconds.

Revizto's own timestamps are zone-less `YYYY-MM-DD HH:MM:SS`, taken as UTC (see
docs/revizto-api.md §3c); they are converted on the way out.

>>> rfc3339(0)
'1970-01-01T00:00:00Z'
>>> revizto_to_rfc3339("2026-11-30 17:23:26")
'2026-11-30T17:23:26Z'
>>> revizto_to_rfc3339("2000-01-01 00:00:00") is None
True
>>> rfc3339_to_revizto("2026-11-30T17:23:26Z")
'2026-11-30 17:23:26'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Revizto's "never set" value (deadline unset, field never changed).
REVIZTO_NEVER = "2000-01-01 00:00:00"
REVIZTO_FORMAT = "%Y-%m-%d %H:%M:%S"
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
REVIZTO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(RFC3339_FORMAT)


def rfc3339_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else rfc3339(epoch)


def revizto_to_rfc3339(value: str) -> str | None:
    """A Revizto timestamp as RFC 3339; None for the "never" sentinel (and for anything
    that is not a Revizto timestamp: a view must never fail on a stored value)."""
    if value == REVIZTO_NEVER:
        return None
    try:
        moment = datetime.strptime(value, REVIZTO_FORMAT)
    except ValueError:
        return None
    # isoformat, not strftime: %Y does not pad years before 1000 on every platform.
    return moment.isoformat() + "Z"


def rfc3339_to_revizto(value: str) -> str:
    """The other way, for Revizto's `synchronized` parameter."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(sep=" ")


def parse_rfc3339(value: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp (tests and clients measuring durations)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
