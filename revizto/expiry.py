"""When does an access token expire? Read defensively from the JWT and from `expires_in`.

Revizto's JWT `exp` is a float with microseconds, which naive int parsers reject; other
providers have sent strings, booleans and nonsense. The signature is not verified: this
client only needs the claim, and Revizto's signing key is not published.
"""

from __future__ import annotations

import math
from typing import Any

import jwt

# `exp` before this instant (2001-09-09) cannot belong to a token Revizto issued.
EARLIEST_PLAUSIBLE_EXP = 1_000_000_000.0
# Revizto's access tokens live an hour; anything claiming more than a year is garbage.
MAX_PLAUSIBLE_LIFETIME_SECONDS = 366 * 24 * 3600.0


def _plausible_number(value: Any) -> float | None:
    """A finite, non-negative int or float (never a bool); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None
    return number


def jwt_expiry(access_token: str, *, now: float) -> float | None:
    """The `exp` claim of `access_token` as unix seconds, or None if absent or implausible."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = _plausible_number(claims.get("exp"))
    if exp is None or exp < EARLIEST_PLAUSIBLE_EXP:
        return None
    if exp > now + MAX_PLAUSIBLE_LIFETIME_SECONDS:
        return None
    return exp


def expires_in_expiry(expires_in: Any, *, requested_at: float) -> float | None:
    """`requested_at + expires_in`, measured from the request start so latency errs early."""
    if isinstance(expires_in, str):
        try:
            expires_in = float(expires_in)
        except ValueError:
            return None
    seconds = _plausible_number(expires_in)
    if seconds is None or seconds == 0 or seconds > MAX_PLAUSIBLE_LIFETIME_SECONDS:
        return None
    return requested_at + seconds


def token_expiry(
    access_token: str, expires_in: Any, *, requested_at: float, now: float
) -> float | None:
    """The earlier of the JWT `exp` and `expires_in`; None when neither is usable."""
    candidates = [
        value
        for value in (
            jwt_expiry(access_token, now=now),
            expires_in_expiry(expires_in, requested_at=requested_at),
        )
        if value is not None
    ]
    return min(candidates) if candidates else None
