"""One Revizto rate limit for the whole cluster (service_common/rate_limit.py): processes
sharing one Redis keep the aggregate pace, a throttling reply pauses every client, Redis
going away slows requests down instead of failing them, and an export against a sandbox
that enforces a limit gets through it without a storm of 429s."""

from __future__ import annotations

import bisect
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
import redis

from api.settings import ApiSettings
from revizto.errors import RateLimited
from revizto.transport import Transport
from service_common import rate_limit
from service_common.configuration_error import ConfigurationError
from service_common.gcra import Pace
from service_common.rate_limit import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    FALLBACK_DIVISOR,
    KEY_PREFIX,
    ClusterRateLimit,
    RateLimitSettings,
    cluster_rate_limit,
    limiter_redis,
)
from tests.support.exporter import ExporterStack
from tests.support.ports import free_port
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxFactory, SandboxProcess
from worker.settings import WorkerSettings

NOT_BEFORE_KEY = f"{KEY_PREFIX}:not_before"


class SleepStopped(Exception):
    """Raised by a recording sleep to end a wait the test only wants to look at."""


def recording_sleep(sleeps: list[float], *, stop: bool = False) -> Callable[[float], None]:
    """A sleep that remembers what it was asked for and returns at once (or stops)."""

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if stop:
            raise SleepStopped

    return sleep


# --- settings --------------------------------------------------------------------------------


def test_settings_default_to_a_modest_shared_pace_and_zero_turns_the_limiter_off() -> None:
    assert RateLimitSettings.from_env({}) == RateLimitSettings(
        rate=DEFAULT_RATE, burst=DEFAULT_BURST
    )
    assert RateLimitSettings.from_env(
        {"REVIZTO_RATE_LIMIT_RPS": "2.5", "REVIZTO_RATE_LIMIT_BURST": "3"}
    ) == RateLimitSettings(rate=2.5, burst=3)
    off = RateLimitSettings.from_env({"REVIZTO_RATE_LIMIT_RPS": "0"})
    assert not off.enabled
    assert cluster_rate_limit("redis://127.0.0.1:1/0", off) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REVIZTO_RATE_LIMIT_RPS", "-1"),
        ("REVIZTO_RATE_LIMIT_RPS", "fast"),
        ("REVIZTO_RATE_LIMIT_RPS", "inf"),
        ("REVIZTO_RATE_LIMIT_BURST", "0"),
        ("REVIZTO_RATE_LIMIT_BURST", "1.5"),
    ],
)
def test_bad_settings_are_refused_by_worker_and_api_naming_the_variable(
    name: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=name):
        WorkerSettings.from_env({name: value})
    with pytest.raises(ConfigurationError, match=name):
        ApiSettings.from_env({"EXPORTER_API_KEYS": "a-key-of-sixteen-chars", name: value})


# --- the shared schedule -----------------------------------------------------------------------


def _take_slots(
    redis_url: str, pace: Pace, threads: int, per_thread: int, start: Barrier, out: Any
) -> None:
    """One process of the cluster: `threads` threads take `per_thread` slots each."""
    gate = ClusterRateLimit(limiter_redis(redis_url), pace)
    stamps: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(per_thread):
            gate.before_request()
            with lock:
                stamps.append(time.time())

    start.wait()
    workers = [threading.Thread(target=take) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(stamps)


def most_in_any_window(stamps: list[float], window: float) -> int:
    ordered = sorted(stamps)
    return max(
        bisect.bisect_left(ordered, first + window) - index for index, first in enumerate(ordered)
    )


def test_processes_sharing_one_redis_keep_the_aggregate_rate(redis_url: str) -> None:
    pace = Pace(rate=40, burst=4)
    processes, threads, per_thread = 4, 3, 20
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    out = context.Queue()
    children = [
        context.Process(target=_take_slots, args=(redis_url, pace, threads, per_thread, start, out))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    stamps = [stamp for _ in children for stamp in out.get(timeout=120)]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert len(stamps) == processes * threads * per_thread
    # Counted over two-second windows: the rate plus the burst, and 10 % for a process the
    # scheduler held back a moment (its slots then get recorded close together).
    window = 2.0
    allowed = pace.rate * window * 1.1 + pace.burst
    # Twelve callers without the limiter would take all 240 slots at once.
    assert most_in_any_window(stamps, window) <= allowed


def test_a_throttling_reply_pauses_every_client_and_the_pause_only_moves_later(
    redis_url: str, sandbox: SandboxProcess
) -> None:
    pace = Pace(rate=50, burst=1)
    throttled: list[int] = []
    getting_429 = ClusterRateLimit(
        limiter_redis(redis_url), pace, on_throttled=lambda: throttled.append(1)
    )
    transport = Transport(sandbox.base_url, gate=getting_429)
    # Result -2300 in an HTTP 200 is throttling too (docs/revizto-api.md §5a).
    sandbox.set_faults(fail_next={"count": 1, "status": 200, "result": -2300, "retry_after_s": 30})
    with pytest.raises(RateLimited):
        transport.get_once("v5/user", endpoint="user", bearer=sandbox.access_token())
    assert throttled == [1]

    # Another process of the cluster, which never saw the reply, waits for the pause.
    sleeps: list[float] = []
    elsewhere = ClusterRateLimit(
        limiter_redis(redis_url), pace, sleep=recording_sleep(sleeps, stop=True)
    )
    with pytest.raises(SleepStopped):
        elsewhere.before_request()
    assert 25 < sleeps[0] <= 30

    # A shorter Retry-After that arrives later does not shorten the pause.
    elsewhere.rate_limited(1.0)
    client = redis.Redis.from_url(redis_url)
    assert client.pttl(NOT_BEFORE_KEY) > 25_000
    with pytest.raises(SleepStopped):
        elsewhere.before_request()
    assert sleeps[1] > 25


def test_a_429_without_retry_after_pauses_the_cluster_briefly(redis_url: str) -> None:
    pace = Pace(rate=50, burst=1)
    ClusterRateLimit(limiter_redis(redis_url), pace).rate_limited(None)
    sleeps: list[float] = []
    elsewhere = ClusterRateLimit(
        limiter_redis(redis_url), pace, sleep=recording_sleep(sleeps, stop=True)
    )
    with pytest.raises(SleepStopped):
        elsewhere.before_request()
    assert 0.5 < sleeps[0] <= rate_limit.DEFAULT_PAUSE_SECONDS


# --- without Redis -----------------------------------------------------------------------------


@pytest.fixture
def limiter_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=rate_limit.__name__)
    return caplog


def outage_lines(log: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in log.records if text in r.getMessage()]


def test_without_redis_requests_go_on_at_the_fallback_pace_logged_once(
    limiter_log: pytest.LogCaptureFixture,
) -> None:
    sleeps: list[float] = []
    nowhere = limiter_redis(f"redis://127.0.0.1:{free_port()}/0")
    pace = Pace(rate=32, burst=8)
    gate = ClusterRateLimit(nowhere, pace, sleep=recording_sleep(sleeps))
    for _ in range(5):
        gate.before_request()
    assert gate.in_outage
    interval = FALLBACK_DIVISOR / pace.rate  # 0.5 s: the local pace has no burst
    assert sleeps == pytest.approx([interval, 2 * interval, 3 * interval, 4 * interval], abs=0.1)
    assert len(outage_lines(limiter_log, "Redis unavailable")) == 1


def test_a_redis_outage_is_logged_once_and_the_shared_limit_returns_with_redis(
    limiter_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = PrivateRedis()
    try:
        sleeps: list[float] = []
        gate = ClusterRateLimit(
            limiter_redis(server.url()), Pace(rate=1000, burst=1), sleep=recording_sleep(sleeps)
        )
        gate.before_request()
        assert not gate.in_outage
        monkeypatch.setattr(rate_limit, "REDIS_RETRY_SECONDS", 0.0)  # probe on every request
        server.down()
        for _ in range(3):
            gate.before_request()
            gate.rate_limited(0.0)  # a 429 in the outage: paced locally, no crash
        assert gate.in_outage
        server.up()
        gate.before_request()
        assert not gate.in_outage
    finally:
        server.stop()
    assert len(outage_lines(limiter_log, "Redis unavailable")) == 1
    assert len(outage_lines(limiter_log, "Redis is back")) == 1


# --- a whole export ----------------------------------------------------------------------------


def worker_metric(stack: ExporterStack, name: str) -> float:
    total = 0.0
    for worker in stack.workers:
        for line in worker.metrics_text().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.slow
def test_an_export_stays_under_the_sandboxes_limit_with_few_429s(
    sandbox_factory: SandboxFactory, exporter_factory: Callable[..., ExporterStack]
) -> None:
    fake = sandbox_factory(
        projects=2, issues_per_project=40, comments_per_issue=2, rate_limit_rps=8
    )
    stack = exporter_factory(
        fake,
        workers=2,
        worker_env={"REVIZTO_RATE_LIMIT_RPS": "7", "REVIZTO_RATE_LIMIT_BURST": "1"},
    )
    job = stack.submit()
    done = stack.wait_finished(job["id"], timeout=240)
    assert done["state"] == "succeeded", done
    stats = fake.stats()
    assert stats["data_requests"] > 80
    # Without the limiter, two workers with eight comment requests each in flight run
    # into this sandbox's limit over and over.
    assert stats["responses_429"] <= max(2, stats["data_requests"] // 100), stats
    assert (
        worker_metric(stack, "revizto_rate_limit_wait_seconds_count")
        >= stats["data_requests"] - stats["responses_429"] - 10
    )
