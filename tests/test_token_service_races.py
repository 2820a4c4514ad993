"""Races a shared credential meets in production: new credentials installed while a
refresh is out, a slow Revizto, a failed start-up, and Redis losing its last writes."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import redis
import requests

from tests.support.sandbox import SandboxFactory
from tests.support.token_service import StartService, TokenServiceProcess, token
from tests.support.waiting import wait_until

INFLIGHT_KEY = "rxp:token:inflight"


def refresh_in_background(service: TokenServiceProcess, generation: int) -> threading.Thread:
    def call() -> None:
        with contextlib.suppress(requests.RequestException):
            service.report_rejection(generation)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_a_refusal_of_a_replaced_credential_does_not_flag_the_new_one(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    old = token(service)["generation"]
    # Given the service's refresh token revoked, and a fresh one the operator holds
    sandbox.set_faults(revoke_refresh_tokens=True)
    fresh = sandbox.exchange_code()["refresh_token"]
    # When a refresh with the revoked token is still out at Revizto (2 s)...
    sandbox.set_faults(token_latency_ms=2000, token_latency_phase="before")
    store = redis.Redis.from_url(redis_url)
    stuck = refresh_in_background(service, old)
    wait_until(lambda: store.exists(INFLIGHT_KEY), timeout=10, what="refresh in flight")
    # ...while the operator installs the fresh credential
    assert service.put_credentials({"refresh_token": fresh}).status_code == 200
    stuck.join(timeout=30)
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 1
    # Then Revizto's late refusal of the old token does not flag the new credential
    assert service.metric("revizto_token_reauth_required") == 0
    sandbox.set_faults(token_latency_ms=0)
    current = token(service)
    assert current["generation"] > old
    assert sandbox.get("/v5/user", current["access_token"]).status_code == 200


def test_a_slow_refresh_does_not_stall_callers_whose_token_is_still_good(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    # A 20 s token is due for refresh 10 s before it expires: still good for a while then
    sandbox = sandbox_factory(token_lifetime=20, projects=1, issues_per_project=5)
    service = start_service(sandbox)
    first = service.report_rejection(token(service)["generation"]).json()
    # A refresh that takes 2.5 s (callers with a good token wait 2 s at most)
    sandbox.set_faults(token_latency_ms=2500)
    wait_until(lambda: time.time() > first["refresh_at"], timeout=15, what="refresh window")
    reply = service.get_token(timeout=4)
    assert reply.status_code == 200
    assert reply.json()["generation"] == first["generation"]
    # And the refresh completes for everybody afterwards
    wait_until(
        lambda: token(service)["generation"] == first["generation"] + 1,
        timeout=20,
        interval=0.5,
        what="the slow refresh landed",
    )
    assert service.metric("revizto_token_refresh_failures_total", reason="lock_timeout") == 0


def test_a_failed_start_up_exchange_is_retried_not_a_reauth(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    sandbox.set_faults(fail_next={"count": 6, "status": 503, "scope": "token"})
    service = start_service(sandbox)
    first = service.get_token()
    assert first.status_code == 503
    assert first.json()["type"].endswith("/token-unavailable")
    # Once Revizto answers again, the same access code is exchanged: no human needed
    wait_until(lambda: service.get_token().status_code == 200, timeout=30, interval=0.5, what="up")
    assert service.metric("revizto_token_reauth_required") == 0


def test_after_redis_lost_its_last_writes_the_newer_file_is_adopted_at_start(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    generation = token(service)["generation"]
    store = redis.Redis.from_url(redis_url)
    older = store.hgetall("rxp:token:state")  # what an AOF fsynced a second ago still holds
    service.report_rejection(generation)
    service.stop()
    # Redis comes back from a crash without the last rotation
    store.delete("rxp:token:state")
    store.hset("rxp:token:state", mapping=older)

    restarted = start_service(sandbox)
    assert token(restarted)["generation"] == generation + 1
    assert restarted.report_rejection(generation + 1).json()["generation"] == generation + 2
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0
    assert "adopted the file" in restarted.log()
