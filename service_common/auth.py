"""Bearer-key checks in constant time, shared by the token service and the job API."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer ...` header, or None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def matches_any(presented: str | None, accepted: Iterable[str]) -> bool:
    """Compare against every accepted key without an early exit, so timing reveals nothing."""
    if presented is None:
        return False
    candidate = presented.encode()
    found = False
    for key in accepted:
        found |= hmac.compare_digest(candidate, key.encode())
    return found
