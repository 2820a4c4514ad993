"""What every data request passes before its handler: latency, faults, rate limit, the token."""

from __future__ import annotations

import time

from flask import Blueprint, Response, request

from sandbox.envelope import (
    GENERIC_FAILURE,
    TOKEN_INVALID,
    TOO_MANY_REQUESTS,
    failure,
    retry_after_header,
)
from sandbox.fault_replies import hang, injected_failure
from sandbox.state import current_state


def install_data_gate(blueprint: Blueprint) -> None:
    """Run the gate before, and the in-flight bookkeeping after, every route of `blueprint`."""
    blueprint.before_request(_gate)
    blueprint.teardown_request(_finished)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _gate() -> Response | None:
    state = current_state()
    state.stats.data_started()
    settings = state.faults.settings
    # Sleeping in the handler thread: concurrent requests each wait in their own thread.
    if settings.data_latency_ms:
        time.sleep(settings.data_latency_ms / 1000)
    if state.faults.take_hang("data"):
        return hang(request.environ)
    fault = state.faults.take_fail_next("data")
    if fault is not None:
        return injected_failure(fault, settings)
    if not state.faults.admit():
        retry_after = retry_after_header(settings.retry_after_s)
        return failure(TOO_MANY_REQUESTS, status=429, headers={"Retry-After": retry_after})
    if state.faults.roll_error():
        return failure(GENERIC_FAILURE, "Service temporarily unavailable", status=503)
    token = bearer_token()
    if token is None or not state.auth.access_token_valid(token):
        return failure(TOKEN_INVALID, status=settings.expired_token_status)
    return None


def _finished(_error: BaseException | None) -> None:
    current_state().stats.data_finished()
