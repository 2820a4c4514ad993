"""SingleFlight: in one process, concurrent callers for the same key share one execution.

The first caller for a key launches the work in a background thread; everyone who asks
while it runs waits for that same outcome (the same value, or the same exception),
each for as long as it can afford: a caller whose current token is still good gives up
after a moment and carries on with it, while the work finishes for the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class FlightTimeout(Exception):
    """The outcome was not ready within the caller's timeout (the work goes on)."""


class Flight(Generic[T]):
    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self.followers = 0

    def result(self, timeout: float) -> T:
        if not self._done.wait(timeout):
            raise FlightTimeout(f"no outcome within {timeout:g}s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value = work()
        except BaseException as exc:  # handed to every waiter, re-raised there
            self._error = exc
        finally:
            self._done.set()


class SingleFlight(Generic[T]):
    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._flights: dict[Hashable, Flight[T]] = {}

    def launch(self, key: Hashable, work: Callable[[], T]) -> Flight[T]:
        """The running flight for `key`, or a new one running `work` in the background."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                flight.followers += 1
                return flight
            flight = self._flights[key] = Flight()

        def run() -> None:
            try:
                flight._run(work)
            finally:
                with self._lock:
                    del self._flights[key]

        threading.Thread(target=run, name=f"{self._name}-{key}", daemon=True).start()
        return flight

    def run(self, key: Hashable, work: Callable[[], T], *, timeout: float) -> T:
        return self.launch(key, work).result(timeout)

    def followers(self, key: Hashable) -> int:
        """How many callers joined the running flight for `key` after it started."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.followers if flight else 0
