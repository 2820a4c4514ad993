"""One Revizto rate limit for the whole cluster: every worker process and the API take their
request slots from one GCRA schedule in Redis (service_common/gcra.py), and a throttling
reply pauses all of them until Revizto's Retry-After has passed.

ClusterRateLimit is the revizto.transport.RequestGate that workers and the API hand to
their Revizto clients. A request waits for its slot; it is never refused. Without Redis
(an outage, a restart) requests go on, paced by each process alone at the configured rate
divided by FALLBACK_DIVISOR, so that even a cluster of that many processes stays within
the limit; the outage is logged once, and so is the recovery. The token service's OAuth
calls are not paced: a few an hour, and a refresh must never wait behind an export.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from pydantic import Field
from redis.backoff import NoBackoff
from redis.retry import Retry

from service_common.gcra import LocalSchedule, Pace, RedisSchedule
from service_common.settings import PositiveCount, ServiceSettings, ZeroOrPositiveNumber

log = logging.getLogger(__name__)

KEY_PREFIX = "rxp:revizto:rate"
# No published limit exists (docs/revizto-api.md §5b): about what one sequential client
# sends at Revizto's usual ~100 ms per request, which public clients do without reports
# of throttling. Raise it when Revizto tells you your tenant's limit.
DEFAULT_RATE = 10.0
DEFAULT_BURST = 5
# Without Redis each process paces itself at rate / FALLBACK_DIVISOR: a cluster of up to
# 16 processes (say 3 worker replicas of 4 processes and the API) stays within the limit.
FALLBACK_DIVISOR = 16
# While Redis is away, try it again this often rather than on every request.
REDIS_RETRY_SECONDS = 5.0
# A 429 without Retry-After pauses the cluster this long; a longer Retry-After than the
# cap is cut to it, so one odd header cannot park every worker for hours.
DEFAULT_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 300.0
# The limiter's own Redis calls: quick to give up, since a request can always go on paced
# locally, and never the shared client's long retries.
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_SOCKET_TIMEOUT = 1.0

# Buckets of the wait histogram (revizto_rate_limit_wait_seconds), worker and API alike.
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

WaitObserver = Callable[[float], None]
ThrottleObserver = Callable[[], None]


class RateLimitSettings(ServiceSettings):
    """REVIZTO_RATE_LIMIT_RPS (0: no limiter at all) and REVIZTO_RATE_LIMIT_BURST."""

    rate: ZeroOrPositiveNumber = Field(
        default=DEFAULT_RATE, validation_alias="REVIZTO_RATE_LIMIT_RPS"
    )
    burst: PositiveCount = Field(default=DEFAULT_BURST, validation_alias="REVIZTO_RATE_LIMIT_BURST")

    @property
    def enabled(self) -> bool:
        return self.rate > 0


def limiter_redis(url: str) -> redis.Redis:
    """A client of its own: short timeouts and no retries (see REDIS_*_TIMEOUT)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


class ClusterRateLimit:
    """The shared schedule in Redis, with a local one for when Redis does not answer."""

    def __init__(
        self,
        client: redis.Redis,
        pace: Pace,
        *,
        on_wait: WaitObserver | None = None,
        on_throttled: ThrottleObserver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self.pace = pace
        self.fallback_pace = Pace(pace.rate / FALLBACK_DIVISOR, 1)
        self._shared = RedisSchedule(client, pace, prefix=key_prefix)
        self._local = LocalSchedule(self.fallback_pace)
        self._on_wait = on_wait
        self._on_throttled = on_throttled
        self._sleep = sleep
        self._lock = threading.Lock()
        self._outage = False
        self._retry_redis_at = 0.0

    @property
    def in_outage(self) -> bool:
        return self._outage

    # -- RequestGate ---------------------------------------------------------------------------

    def before_request(self) -> None:
        waited = 0.0
        while True:
            wait = self._reserve()
            if wait > 0:
                self._sleep(wait)
                waited += wait
            # A caller that slept may have slept into a pause another process set meanwhile
            # (its 429): then it takes a new slot after the pause instead of going now.
            if wait <= 0 or self._paused_for() <= 0:
                break
        if self._on_wait is not None:
            self._on_wait(waited)

    def rate_limited(self, retry_after: float | None) -> None:
        if self._on_throttled is not None:
            self._on_throttled()
        pause = DEFAULT_PAUSE_SECONDS if retry_after is None else retry_after
        pause = min(max(pause, 0.0), MAX_PAUSE_SECONDS)
        # The local schedule pauses too: if Redis goes away now, this process still obeys.
        self._local.pause(pause)
        if self._use_redis():
            try:
                paused = self._shared.pause(pause)
            except redis.RedisError as exc:
                self._redis_failed(exc)
                return
            self._redis_answered()
            log.info("Revizto throttled a request: every client pauses for %.1f s", paused)

    # -- the two schedules ----------------------------------------------------------------------

    def _reserve(self) -> float:
        if self._use_redis():
            try:
                wait = self._shared.reserve()
            except redis.RedisError as exc:
                self._redis_failed(exc)
            else:
                self._redis_answered()
                return wait
        return self._local.reserve()

    def _paused_for(self) -> float:
        if self._use_redis():
            try:
                paused = self._shared.paused_for()
            except redis.RedisError as exc:
                self._redis_failed(exc)
            else:
                self._redis_answered()
                return paused
        return self._local.paused_for()

    def _use_redis(self) -> bool:
        return not self._outage or time.monotonic() >= self._retry_redis_at

    def _redis_failed(self, exc: redis.RedisError) -> None:
        with self._lock:
            self._retry_redis_at = time.monotonic() + REDIS_RETRY_SECONDS
            if self._outage:
                return
            self._outage = True
        log.warning(
            "rate limiter: Redis unavailable (%s); pacing this process alone at %.3g "
            "requests/s (REVIZTO_RATE_LIMIT_RPS / %d) until it is back",
            type(exc).__name__,
            self.fallback_pace.rate,
            FALLBACK_DIVISOR,
        )

    def _redis_answered(self) -> None:
        if not self._outage:
            return
        with self._lock:
            if not self._outage:
                return
            self._outage = False
        log.warning("rate limiter: Redis is back; the cluster-wide limit applies again")


def cluster_rate_limit(
    redis_url: str,
    settings: RateLimitSettings,
    *,
    on_wait: WaitObserver | None = None,
    on_throttled: ThrottleObserver | None = None,
) -> ClusterRateLimit | None:
    """The gate for a process's Revizto clients; None when REVIZTO_RATE_LIMIT_RPS is 0."""
    if not settings.enabled:
        return None
    return ClusterRateLimit(
        limiter_redis(redis_url),
        Pace(settings.rate, settings.burst),
        on_wait=on_wait,
        on_throttled=on_throttled,
    )
