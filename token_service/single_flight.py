"""SingleFlight: in one process, concurrent callers for the same key share one execution.

The first caller for a key runs the work; everyone who arrives while it runs waits for
that outcome (the same value, or the same exception) instead of queueing for a lock and
re-checking one by one, so a storm of callers wakes up together when the work is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class FlightTimeout(Exception):
    """A follower gave up waiting for the leader's outcome."""


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None
        self.followers = 0


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}

    def followers(self, key: Hashable) -> int:
        """How many callers are waiting on the running flight for `key`."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.followers if flight else 0

    def run(self, key: Hashable, work: Callable[[], T], *, timeout: float) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                flight.followers += 1
        if not leader:
            if not flight.done.wait(timeout):
                raise FlightTimeout(f"no outcome within {timeout:g}s")
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[return-value]
        try:
            flight.value = work()
            return flight.value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
