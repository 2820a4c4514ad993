"""The refresh state machine in-process, with a clock the test moves: the branches that
only timing reaches in a real deployment (a lease running short, a credential replaced
while a refresh is out, a refresh still in progress, the back-off after ambiguous 5xx).

Everything around the manager is real: the sandbox over HTTP, a private Redis, the file.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from revizto.oauth import OAuthClient, TokenPair
from revizto.retry import RetryPolicy
from tests.support.sandbox import SandboxProcess
from tests.support.token_service import write_appsettings
from tests.support.waiting import wait_until
from token_service.appsettings import AppSettingsFile
from token_service.config import Settings
from token_service.liveness import ReviztoLiveness
from token_service.manager import ReauthRequired, TokenManager, TokenUnavailable
from token_service.metrics import TokenMetrics
from token_service.state import Snapshot, TokenStore

PREFIX = "rxp:token:"
QUICK_RETRY = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.02, jitter=0.0)


class Clock:
    """Wall time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_manager(
    sandbox: SandboxProcess,
    redis_url: str,
    tmp_path: Path,
    *,
    clock: Clock,
    store: TokenStore | None = None,
    oauth: OAuthClient | None = None,
    **settings: Any,
) -> TokenManager:
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    manager = TokenManager(
        Settings(**{"secret": "s" * 24, "token_retry": QUICK_RETRY, "lock_wait": 5.0, **settings}),
        store or TokenStore(client, PREFIX),
        oauth or OAuthClient(sandbox.base_url, retry_policy=QUICK_RETRY),
        AppSettingsFile(path),
        TokenMetrics(CollectorRegistry()),
        revizto_answers=ReviztoLiveness(sandbox.base_url).answers,
        clock=clock,
    )
    manager.bootstrap()
    return manager


def failures(manager: TokenManager, reason: str) -> float:
    value = manager.metrics.registry.get_sample_value(
        "revizto_token_refresh_failures_total", {"reason": reason}
    )
    return value or 0.0


def rejected(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"])


def keep_refreshing(manager: TokenManager, clock: Clock, generation: int, rounds: int) -> Any:
    """Report a 401 for `generation` until something other than a pause or a 5xx comes
    back, honouring each pause by moving the clock; returns that outcome."""
    for _ in range(rounds):
        try:
            return manager.refresh_after_rejection(generation)
        except ReauthRequired as exc:
            return exc
        except TokenUnavailable as exc:
            if exc.reason not in ("refresh_paused", "server_error"):
                return exc
            if exc.reason == "refresh_paused":
                clock.advance(exc.retry_after)
    raise AssertionError(f"still failing after {rounds} rounds")


def test_a_refusal_as_http_500_is_declared_dead_only_after_persisting_with_at_most_ten_requests(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    manager = build_manager(sandbox, redis_url, tmp_path, clock=clock, refresh_failing_seconds=80.0)
    generation = manager.get_token().generation
    started = clock()
    sandbox.set_faults(refresh_reject_style="500", revoke_refresh_tokens=True)

    outcome = keep_refreshing(manager, clock, generation, rounds=60)

    assert isinstance(outcome, ReauthRequired), outcome
    assert outcome.reason == "refresh_failing"
    # It persisted in time and in requests before it counted, and stayed within the bound
    assert clock() - started >= 80.0
    assert manager.settings.refresh_failing_attempts <= rejected(sandbox) <= 10
    assert failures(manager, "refresh_failing") == 1
    assert failures(manager, "server_error") >= 1
    assert manager.store.snapshot().reauth is not None


def test_a_passing_server_error_is_retried_after_a_pause_and_never_a_dead_token(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    manager = build_manager(sandbox, redis_url, tmp_path, clock=clock)
    generation = manager.get_token().generation
    sandbox.set_faults(fail_next={"count": 5, "status": 500, "scope": "token"})

    outcome = keep_refreshing(manager, clock, generation, rounds=20)

    assert not isinstance(outcome, Exception), outcome
    assert outcome.generation == generation + 1
    snapshot = manager.store.snapshot()
    assert (snapshot.reauth, snapshot.failing, snapshot.inflight) == (None, None, None)
    assert failures(manager, "refresh_failing") == 0


def test_while_all_of_revizto_fails_the_token_is_not_declared_dead(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    manager = build_manager(sandbox, redis_url, tmp_path, clock=clock, refresh_failing_seconds=8.0)
    generation = manager.get_token().generation
    sandbox.set_faults(fail_next={"count": 10_000, "status": 500, "scope": "all"})
    # Far past both bounds: every request, data endpoints included, fails
    for _ in range(14):
        with pytest.raises(TokenUnavailable) as raised:
            manager.refresh_after_rejection(generation)
        clock.advance(max(raised.value.retry_after, 1.0))
    snapshot = manager.store.snapshot()
    assert snapshot.reauth is None
    assert snapshot.failing is not None
    assert snapshot.failing.requests > 10
    # And once Revizto is back, the same token refreshes
    sandbox.set_faults(fail_next=None)
    outcome = keep_refreshing(manager, clock, generation, rounds=5)
    assert not isinstance(outcome, Exception), outcome
    assert outcome.generation == generation + 1


def test_a_refresh_that_finds_less_than_half_its_lease_left_does_not_start(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    class SlowUnderLock(TokenStore):
        """Reads slowly while the refresh lock is held, as a Redis under load would."""

        def snapshot(self) -> Snapshot:
            if self.client.exists(self.lock_key):
                time.sleep(0.7)
            return super().snapshot()

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    clock = Clock()
    manager = build_manager(
        sandbox,
        redis_url,
        tmp_path,
        clock=clock,
        store=SlowUnderLock(client, PREFIX),
        lock_lease=1.0,
    )
    generation = manager.get_token().generation
    before = sandbox.stats()["token_endpoint"]["refresh_token"]

    with pytest.raises(TokenUnavailable) as raised:
        manager.refresh_after_rejection(generation)

    assert raised.value.reason == "lock_timeout"
    assert failures(manager, "lock_timeout") == 1
    assert sandbox.stats()["token_endpoint"]["refresh_token"] == before  # nothing was sent


class ReplacingOAuth(OAuthClient):
    """Real HTTP; just before the first refresh it installs another credential in the
    store, as a person's PUT /v1/credentials racing the refresh would."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        super().__init__(sandbox.base_url, retry_policy=QUICK_RETRY)
        self._sandbox = sandbox
        self.store: TokenStore | None = None  # set once the manager exists
        self.installed: TokenPair | None = None

    def refresh(self, refresh_token: str, *, attempts: int | None = None) -> TokenPair:
        if self.store is not None and self.installed is None:
            self.installed = self.exchange_access_code(self._sandbox.access_code())
            installed_refresh = self.installed.refresh_token or ""
            self.store.install(self.installed, installed_refresh, time.time())
        return super().refresh(refresh_token, attempts=attempts)


def racing_install(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> tuple[TokenManager, ReplacingOAuth, int]:
    """A manager with its first token, whose next refresh races an installation."""
    oauth = ReplacingOAuth(sandbox)
    manager = build_manager(sandbox, redis_url, tmp_path, clock=Clock(), oauth=oauth)
    generation = manager.get_token().generation
    oauth.store = manager.store
    return manager, oauth, generation


def test_a_credential_replaced_during_a_refresh_wins_over_the_refreshed_pair(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager, oauth, generation = racing_install(sandbox, redis_url, tmp_path)

    with caplog.at_level(logging.ERROR, logger="token_service.manager"):
        result = manager.refresh_after_rejection(generation)

    assert oauth.installed is not None
    assert result.access_token == oauth.installed.access_token
    assert result.generation == generation + 1
    assert "credential replaced during refresh" in caplog.text


def test_a_refusal_of_a_token_already_replaced_is_a_lost_race_not_a_revocation(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager, oauth, generation = racing_install(sandbox, redis_url, tmp_path)
    # Every token issued so far dies; the one installed during the refresh is new and live
    sandbox.set_faults(revoke_refresh_tokens=True)

    with caplog.at_level(logging.WARNING, logger="token_service.manager"):
        result = manager.refresh_after_rejection(generation)

    assert rejected(sandbox) == 1
    assert oauth.installed is not None
    assert result.access_token == oauth.installed.access_token
    assert manager.store.snapshot().reauth is None
    assert "a lost race, not a revocation" in caplog.text
    assert failures(manager, "refresh_token_expired") == 0


def test_a_caller_joining_a_refresh_that_outlasts_its_wait_hears_refresh_in_progress(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    manager = build_manager(sandbox, redis_url, tmp_path, clock=Clock(), lock_wait=1.0)
    generation = manager.get_token().generation
    sandbox.set_faults(token_latency_ms=6000)
    # The first caller starts the refresh (and, waiting only 2 s itself, gives up too)
    first = threading.Thread(target=_ignore_unavailable, args=(manager, generation))
    first.start()
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: client.exists(PREFIX + "inflight"), timeout=10, what="refresh in flight")

    with pytest.raises(TokenUnavailable) as raised:
        manager.refresh_after_rejection(generation)

    assert raised.value.reason == "refresh_in_progress"
    first.join(timeout=30)

    # The refresh itself went on and finished for everybody
    def refreshed() -> bool:
        state = manager.store.load()
        return state is not None and state.generation == generation + 1

    wait_until(refreshed, timeout=15, what="the refresh to finish")


def _ignore_unavailable(manager: TokenManager, generation: int) -> None:
    with contextlib.suppress(TokenUnavailable):
        manager.refresh_after_rejection(generation)


def test_the_proactive_refresh_follows_the_clock(
    sandbox: SandboxProcess, redis_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    manager = build_manager(sandbox, redis_url, tmp_path, clock=clock)
    first = manager.get_token()
    assert manager.get_token().generation == first.generation  # not due yet
    clock.now = manager.refresh_due_at(first) + 0.001
    assert manager.get_token().generation == first.generation + 1
