"""How injected faults look on the wire: failures, hangs, and latency that notices hang-ups."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response

from sandbox.envelope import (
    GENERIC_FAILURE,
    TOKEN_INVALID,
    TOO_MANY_REQUESTS,
    failure,
    retry_after_header,
)
from sandbox.faults import FailNext, FaultSettings

# Short enough that an aborted refresh is noticed promptly, long enough to cost nothing.
POLL_INTERVAL_S = 0.02
# A hung request gives up after this, so a forgotten hang cannot pin a thread forever.
HANG_CAP_S = 600.0
# nginx's "client closed request": nobody reads it, and it counts as neither 4xx nor 5xx.
CLIENT_GONE_STATUS = 499
DEFAULT_RESULT_BY_STATUS = {401: TOKEN_INVALID, 403: -20, 429: TOO_MANY_REQUESTS}


def client_gone(environ: Mapping[str, Any]) -> bool:
    """True once waitress has seen the caller hang up (needs channel_request_lookahead)."""
    check: Callable[[], bool] | None = environ.get("waitress.client_disconnected")
    return bool(check and check())


def pause(environ: Mapping[str, Any], seconds: float, *, watch_client: bool) -> bool:
    """Sleep `seconds`; when watching, stop early and return False if the caller hangs up."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if watch_client and client_gone(environ):
            return False
        if left <= 0:
            return True
        time.sleep(min(POLL_INTERVAL_S, left) if watch_client else left)


def hang(environ: Mapping[str, Any]) -> Response:
    """Answer nothing until the caller gives up (or the cap passes)."""
    if pause(environ, HANG_CAP_S, watch_client=True):
        return failure(GENERIC_FAILURE, "Gateway timeout", status=504)
    return Response(status=CLIENT_GONE_STATUS)


def injected_failure(fault: FailNext, settings: FaultSettings) -> Response:
    """The reply `fail_next` asked for; HTTP 200 with a negative result is allowed."""
    result = fault.result
    if result is None:
        result = DEFAULT_RESULT_BY_STATUS.get(fault.status, GENERIC_FAILURE)
    headers = {}
    retry_after = fault.retry_after_s
    if retry_after is None and fault.status == 429:
        retry_after = settings.retry_after_s
    if retry_after is not None:
        headers["Retry-After"] = retry_after_header(retry_after)
    message = None if result != GENERIC_FAILURE else f"Injected failure (HTTP {fault.status})"
    return failure(result, message, status=fault.status, headers=headers)
