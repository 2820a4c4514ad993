"""Whether the worker can reach its broker: a PING every few seconds from the main process.

The worker's health check asks this (GET /healthz on the metrics port,
worker/metrics_server.py). The metrics themselves answer while Redis is down, so a
worker that cannot take or acknowledge tasks would otherwise look healthy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

PING_INTERVAL_SECONDS = 5.0
# Below the interval, so a hung connection cannot stall the next ping.
PING_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class BrokerStatus:
    reachable: bool
    detail: str


class BrokerWatch:
    """Pings the broker from a daemon thread; `status()` is the latest verdict.

    A verdict older than a few intervals counts as unreachable too: a watch thread that
    stopped must not leave the last "reachable" standing forever.
    """

    def __init__(
        self,
        url: str,
        *,
        interval: float = PING_INTERVAL_SECONDS,
        timeout: float = PING_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._status = BrokerStatus(False, "not checked yet")
        self._checked_at = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> BrokerStatus:
        """Ping once and remember the answer."""
        try:
            self._client.ping()
            status = BrokerStatus(True, "broker answered PING")
        except redis.RedisError as exc:
            status = BrokerStatus(False, f"broker unreachable: {type(exc).__name__}")
        with self._lock:
            changed = status.reachable != self._status.reachable
            self._status, self._checked_at = status, self._clock()
        if changed:
            # Once per change, not once per ping: an outage is one line, not hundreds.
            log.log(logging.INFO if status.reachable else logging.WARNING, status.detail)
        return status

    def status(self) -> BrokerStatus:
        with self._lock:
            status, age = self._status, self._clock() - self._checked_at
        if age > 3 * self.interval:
            return BrokerStatus(False, f"no broker check for {age:.0f}s")
        return status

    def start(self) -> None:
        self.check()  # a verdict before the first health check asks
        self._thread = threading.Thread(target=self._run, name="broker-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)
        self._client.close()
