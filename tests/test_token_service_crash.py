"""A token-service process SIGKILLed in the middle of a refresh: the in-flight record lets
its successor tell a refresh that never reached Revizto from one that may have spent the
single-use refresh token (guarantee 5)."""

from __future__ import annotations

import contextlib
import threading

import pytest
import redis
import requests

from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.token_service import StartService, TokenServiceProcess, token
from tests.support.waiting import wait_until

INFLIGHT_KEY = "rxp:token:inflight"


def report_rejection_in_background(service: TokenServiceProcess, generation: int) -> None:
    """Start a refresh whose caller will see its server die (the point of these tests)."""

    def call() -> None:
        with contextlib.suppress(requests.ConnectionError):
            service.report_rejection(generation)

    threading.Thread(target=call, daemon=True).start()


def token_requests(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["token_endpoint"]["requests"])


@pytest.mark.slow
def test_killed_before_revizto_rotated_the_other_replica_carries_on(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    doomed, survivor = start_service(sandbox), start_service(sandbox)
    generation = token(doomed)["generation"]
    # Given a token endpoint that waits 2.5 s before it rotates anything
    sandbox.set_faults(token_latency_ms=2500, token_latency_phase="before")
    store = redis.Redis.from_url(redis_url)
    sent = token_requests(sandbox)
    report_rejection_in_background(doomed, generation)
    wait_until(lambda: store.exists(INFLIGHT_KEY), timeout=10, what="refresh in flight")
    # (the record is written just before the request: wait until Revizto has it)
    wait_until(lambda: token_requests(sandbox) > sent, timeout=10, what="request at Revizto")

    # When the refreshing process dies mid-request
    doomed.kill()
    wait_until(
        lambda: sandbox.stats()["token_endpoint"]["refresh_token"]["aborted"] == 1,
        timeout=10,
        what="sandbox saw the caller hang up before rotating",
    )
    sandbox.set_faults(token_latency_ms=0)

    # Then the other replica, once the dead one's lease runs out, refreshes with the
    # (unspent) refresh token and nobody needs to re-authenticate
    def refreshed() -> bool:
        reply = survivor.report_rejection(generation)
        return reply.status_code == 200 and reply.json()["generation"] == generation + 1

    wait_until(refreshed, timeout=30, interval=0.5, what="survivor refreshed")
    assert survivor.metric("revizto_token_reauth_required") == 0
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0
    assert "unfinished refresh found" in survivor.log()
    assert not store.exists(INFLIGHT_KEY)


@pytest.mark.slow
def test_killed_after_revizto_rotated_reaches_reauth_rotation_lost_spending_once(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    doomed, survivor = start_service(sandbox), start_service(sandbox)
    generation = token(doomed)["generation"]
    # Given a token endpoint that rotates, then takes 2.5 s to answer
    sandbox.set_faults(token_latency_ms=2500, token_latency_phase="after")
    report_rejection_in_background(doomed, generation)
    wait_until(
        lambda: sandbox.stats()["token_endpoint"]["refresh_token"]["ok"] == 1,
        timeout=10,
        what="Revizto rotated the refresh token",
    )

    # When the process that holds the only copy of the new refresh token dies
    doomed.kill()
    sandbox.set_faults(token_latency_ms=0)

    # Then within 30 s the survivor concludes the rotation was lost...
    def reauth_reason() -> str | None:
        reply = survivor.report_rejection(generation)
        if reply.status_code == 503 and reply.json()["type"].endswith("/reauth-required"):
            reason: str = reply.json()["reason"]
            return reason
        return None

    assert wait_until(reauth_reason, timeout=30, interval=0.5, what="re-auth") == "rotation_lost"
    # ...having tried the spent refresh token exactly once, not in a retry loop
    stats = sandbox.stats()
    assert stats["refresh_tokens_reused"] == 1
    assert stats["token_endpoint"]["refresh_token"]["rejected"] == 1
    assert survivor.metric("revizto_token_reauth_required") == 1
    assert survivor.metric("revizto_token_refresh_failures_total", reason="rotation_lost") == 1
