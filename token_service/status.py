"""`python -m token_service status`: the credential's health as JSON, for humans and scripts."""

from __future__ import annotations

import time
from typing import Any

import redis

from revizto.client import ReviztoClient
from revizto.errors import ReviztoError
from revizto.retry import RetryPolicy
from revizto.tokens import StaticTokenProvider
from revizto.transport import Timeouts
from token_service.credential_age import credential_age
from token_service.runtime import Runtime

# Exit codes, so cron jobs and healthchecks can branch without parsing JSON.
EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_REAUTH_REQUIRED = 2


def credential_status(runtime: Runtime) -> tuple[dict[str, Any], int]:
    now = time.time()
    report: dict[str, Any] = {"base_url": runtime.base_url}
    access_token = None
    try:
        snapshot = runtime.store.snapshot()
        report["redis"] = {"ok": True}
    except redis.RedisError as exc:
        snapshot = None
        report["redis"] = {"ok": False, "error": type(exc).__name__}
    if snapshot is not None:
        state = snapshot.state
        report["generation"] = state.generation if state else None
        report["access_token_expires_at"] = state.expires_at if state else None
        report["access_token_expires_in_seconds"] = (
            round(state.seconds_left(now), 1) if state else None
        )
        report["refresh_token_age_seconds"] = (
            round(now - state.refresh_token_issued_at, 1) if state and state.refresh_token else None
        )
        report.update(credential_age(state, runtime.settings.credential_max_age_days, now))
        report["reauth_required"] = snapshot.reauth is not None
        report["reauth_reason"] = snapshot.reauth.reason if snapshot.reauth else None
        report["reauth_since"] = snapshot.reauth.since if snapshot.reauth else None
        report["refresh_in_flight"] = snapshot.inflight is not None
        access_token = state.access_token if state else None
    report["appsettings"] = runtime.mirror.probe()
    report["revizto"] = _probe_revizto(runtime.base_url, access_token, now, snapshot)

    if report.get("reauth_required"):
        return report, EXIT_REAUTH_REQUIRED
    healthy = (
        report["redis"]["ok"] and report.get("generation") is not None and report["revizto"]["ok"]
    )
    return report, EXIT_HEALTHY if healthy else EXIT_UNHEALTHY


def _probe_revizto(
    base_url: str, access_token: str | None, now: float, snapshot: Any
) -> dict[str, Any]:
    """GET /v5/user with the current access token; never refreshes (status must not spend)."""
    if not access_token:
        return {"ok": False, "error": "no access token"}
    client = ReviztoClient(
        base_url,
        StaticTokenProvider(access_token),
        timeouts=Timeouts(connect=3.0, read=10.0),
        retry_policy=RetryPolicy(attempts=1),
    )
    try:
        user = client.current_user()
    except ReviztoError as exc:
        return {"ok": False, "error": type(exc).__name__, "detail": str(exc)}
    return {"ok": True, "user": user.get("email")}
