"""The ASGI front of the token service (token_service/front.py): callers waiting for the
token share one read, a shared failure is rendered by Flask's handlers without reading
again, and nobody can tell which layer answered."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import redis
import requests

from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.token_service import StartService, TokenServiceProcess, token
from tests.support.waiting import wait_until

CALLERS = 40
INFLIGHT_KEY = "rxp:token:inflight"


def _all_at_once(service: TokenServiceProcess, callers: int) -> list[requests.Response]:
    start = Barrier(callers)

    def call(_: int) -> requests.Response:
        start.wait()
        return service.get_token(timeout=30)

    with ThreadPoolExecutor(callers) as pool:
        return list(pool.map(call, range(callers)))


def _hgetall_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats").get("cmdstat_hgetall", {})
    return int(stats.get("calls", 0))


def _expired(
    sandbox_factory: SandboxFactory, start_service: StartService, **faults: object
) -> tuple[SandboxProcess, TokenServiceProcess]:
    """A service whose 3 s token has just expired, and its sandbox with `faults` set: the
    next caller of GET /v1/token waits for a refresh."""
    sandbox = sandbox_factory(token_lifetime=3, projects=1, issues_per_project=5)
    service = start_service(sandbox, TOKEN_KEEPALIVE_SECONDS="0")
    expires_at = token(service)["expires_at"]
    wait_until(lambda: time.time() > expires_at + 0.2, timeout=15, what="the token expired")
    sandbox.set_faults(**faults)
    return sandbox, service


def test_callers_waiting_for_one_refresh_share_one_read(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    sandbox, service = _expired(sandbox_factory, start_service, token_latency_ms=1500)
    sandbox.reset_stats()
    client = redis.Redis.from_url(redis_url)
    reads_before = _hgetall_calls(client)
    replies = _all_at_once(service, CALLERS)
    reads = _hgetall_calls(client) - reads_before
    assert [r.status_code for r in replies] == [200] * CALLERS
    assert len({r.json()["generation"] for r in replies}) == 1
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["ok"] == 1
    # One read of the state is 4 HGETALLs; a read per caller would be 160.
    assert reads < CALLERS, f"{reads} HGETALLs for {CALLERS} callers"


def test_a_failed_shared_read_is_one_failed_round_rendered_for_every_caller(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    # Every attempt of the round fails, slowly enough that all callers join it.
    _, service = _expired(
        sandbox_factory,
        start_service,
        token_latency_ms=300,
        fail_next={"count": 100, "status": 503, "scope": "token"},
    )
    failures_before = service.metric_total("revizto_token_refresh_failures_total")
    replies = _all_at_once(service, CALLERS)
    for reply in replies:
        assert reply.status_code == 503
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert reply.json()["type"].endswith("/token-unavailable")
        assert int(reply.headers["Retry-After"]) >= 1
    assert service.metric_total("revizto_token_refresh_failures_total") - failures_before == 1
    assert (
        service.metric("revizto_token_service_requests_total", route="/v1/token", status="503")
        == CALLERS
    )


def test_the_reply_and_its_count_do_not_depend_on_which_layer_answered(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    service = start_service(sandbox_factory(projects=1, issues_per_project=5))
    headers = {"Authorization": f"Bearer {service.secret}"}
    # GET /v1/token is answered by the front; a refresh report for a generation already
    # replaced is answered by Flask with the same current token.
    first = requests.get(f"{service.base_url}/v1/token", headers=headers, timeout=5)
    stale = first.json()["generation"] - 1
    by_flask = service.report_rejection(stale)
    assert by_flask.status_code == 200
    assert first.content == by_flask.content
    assert first.headers["Content-Type"] == by_flask.headers["Content-Type"]
    refused = requests.get(f"{service.base_url}/v1/token", timeout=5)
    assert refused.status_code == 401
    for _ in range(4):
        assert service.get_token().status_code == 200
    count = service.metric
    assert count("revizto_token_service_requests_total", route="/v1/token", status="200") == 5
    assert count("revizto_token_service_requests_total", route="/v1/token", status="401") == 1
    assert (
        count("revizto_token_service_requests_total", route="/v1/token/refresh", status="200") == 1
    )


def test_a_stop_lets_a_caller_waiting_on_a_refresh_have_its_token_then_exits_0(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str
) -> None:
    _, service = _expired(sandbox_factory, start_service, token_latency_ms=1500)
    store = redis.Redis.from_url(redis_url)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(service.get_token, 30)
        wait_until(lambda: store.exists(INFLIGHT_KEY), timeout=10, what="refresh in flight")
        os.kill(service.process.pid, signal.SIGTERM)
        reply = waiting.result(timeout=30)
    assert reply.status_code == 200
    assert service.process.popen.wait(timeout=20) == 0
    assert "stopping server=token_service" in service.log()
