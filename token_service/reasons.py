"""Why the token service could not hand out a token: one vocabulary for the exceptions,
the `reason` of problem replies, the metrics' `reason` label and the log lines.

Three families, by who has to act:
  * a person must install a new credential (the re-auth state): REAUTH_REASONS;
  * the refresh failed but may succeed later without anyone: the rest of REFRESH_FAILURES;
  * no refresh was even tried (waiting for another one, or for the bootstrap).
"""

from __future__ import annotations

from enum import StrEnum


class FailureReason(StrEnum):
    # Revizto refused the refresh token (HTTP 403, 400 invalid_grant, result -10/-20/-206).
    REFRESH_TOKEN_EXPIRED = "refresh_token_expired"  # noqa: S105 (a reason, not a secret)
    # Refused after an attempt whose fate is unknown: that attempt probably spent it.
    ROTATION_LOST = "rotation_lost"
    # An ambiguous refusal (HTTP 5xx from the token endpoint) that persisted, bounded in
    # attempts and time, while Revizto's other endpoints answered: a corrupt token.
    REFRESH_FAILING = "refresh_failing"
    # Transient: the token endpoint could not be reached or did not answer usefully.
    NETWORK = "network"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    INVALID_RESPONSE = "invalid_response"
    LOCK_TIMEOUT = "lock_timeout"
    # No credential to refresh with: nothing installed, or no refresh token in it.
    NO_CREDENTIALS = "no_credentials"
    NO_REFRESH_TOKEN = "no_refresh_token"  # noqa: S105 (a reason, not a secret)
    # The access code from appsettings.json's ApiKey was refused, or is for another region.
    ACCESS_CODE_REJECTED = "access_code_rejected"
    WRONG_REGION = "wrong_region"
    # Not failures of a refresh: the caller should simply come back shortly.
    REFRESH_IN_PROGRESS = "refresh_in_progress"
    BOOTSTRAP_PENDING = "bootstrap_pending"
    REFRESH_PAUSED = "refresh_paused"  # backing off after ambiguous failures


# What the `revizto_token_refresh_failures_total{reason}` counter can carry; every one is
# zero-initialised so alerts see 0 rather than "no data".
REFRESH_FAILURES = (
    FailureReason.REFRESH_TOKEN_EXPIRED,
    FailureReason.ROTATION_LOST,
    FailureReason.REFRESH_FAILING,
    FailureReason.NETWORK,
    FailureReason.TIMEOUT,
    FailureReason.RATE_LIMITED,
    FailureReason.SERVER_ERROR,
    FailureReason.INVALID_RESPONSE,
    FailureReason.LOCK_TIMEOUT,
)
