"""What each way a unit can fail means for the job: one table, one place.

A unit's failure either ends only that unit (the job goes on with the other projects,
and ends partially_succeeded) or stops the whole job at once, because nothing else can
succeed either: the credential needs a human, or the request itself cannot be carried out.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded

from dbsync.databases import DatabaseConfigError
from dbsync.migrate import DestinationRefused, DestinationUnavailable, MigrationFailed
from jobs.storage import StorageUnavailable
from revizto.errors import (
    ConfigurationError,
    InvalidResponse,
    NoApiAccess,
    NotFound,
    ReviztoError,
    TokenRejected,
    TransientError,
    WrongRegion,
)
from token_service.client import ReauthRequired
from worker.plan import PlanError


@dataclass(frozen=True)
class Outcome:
    code: str
    message: str
    stops_job: bool = False  # fail the whole job now, not just this unit


# Revizto's answers that end one unit, by code. The first match wins: subclasses first.
CODES: list[tuple[type[ReviztoError], str]] = [
    (NoApiAccess, "no_api_access"),
    (WrongRegion, "wrong_region"),
    (ConfigurationError, "access_denied"),
    (TokenRejected, "token_rejected"),
    (NotFound, "not_found"),
    (InvalidResponse, "invalid_response"),
    (ReviztoError, "revizto_error"),
]


def classify(error: Exception, label: str) -> Outcome:
    """The outcome of `error` ending the unit described by `label`."""
    if isinstance(error, PlanError):
        return Outcome(error.code, error.message, stops_job=True)
    if isinstance(error, ReauthRequired):
        return Outcome(
            "reauth_required",
            f"Revizto credentials need re-authentication ({error.reason}); "
            "run `python -m token_service auth --access-code CODE`",
            stops_job=True,
        )
    if isinstance(error, SoftTimeLimitExceeded):
        return Outcome("time_limit", f"{label} exceeded the task time limit")
    if isinstance(error, DestinationUnavailable):
        # Only after the retry window: the database stayed unreachable that long.
        return Outcome("destination_unavailable", f"{label}: {error}")
    if isinstance(error, DestinationRefused | DatabaseConfigError):
        return Outcome("destination_error", f"{label}: {error}")
    if isinstance(error, MigrationFailed):
        return Outcome("destination_migration_failed", f"{label}: {error}", stops_job=True)
    if isinstance(error, StorageUnavailable):
        # After boto3's own retries; `:retry` runs the unit again once the store is back.
        return Outcome("storage_unavailable", f"{label}: {error}")
    if isinstance(error, TransientError):
        # Only after the retry window: Revizto failed for that long without a break.
        return Outcome("retries_exhausted", f"{label}: Revizto kept failing: {error}")
    for kind, code in CODES:
        if isinstance(error, kind):
            return Outcome(code, f"{label}: {error}")
    return Outcome("internal_error", f"{label}: {type(error).__name__}: {error}")
