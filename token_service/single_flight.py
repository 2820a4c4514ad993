"""SingleFlight: in one process, concurrent callers for the same key share one execution.

The first caller for a key launches the work in a background thread; everyone who asks
while it runs waits for that same outcome (the same value, or the same exception),
each for as long as it can afford: a caller whose current token is still good gives up
after a moment and carries on with it, while the work finishes for the others.

A first caller that will wait however long the work takes runs it in its own thread
(`run_inline`). Starting a thread costs a GIL hand-over, and under a storm of requests
every hand-over waits behind the threads parsing them: measured in the storm benchmark,
the background thread alone delayed the refresh by up to 50 ms.
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
        flight, leads = self._join(key)
        if leads:
            threading.Thread(
                target=self._fly, args=(key, flight, work), name=f"{self._name}-{key}", daemon=True
            ).start()
        return flight

    def run_inline(self, key: Hashable, work: Callable[[], T], *, timeout: float) -> T:
        """The outcome of `work` for `key`: the first caller runs it in its own thread
        (the work bounds its own time), later ones wait for it at most `timeout`."""
        flight, leads = self._join(key)
        if leads:
            self._fly(key, flight, work)
        return flight.result(timeout)

    def _join(self, key: Hashable) -> tuple[Flight[T], bool]:
        """The flight for `key`, and whether the caller must run it (it is new)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                flight.followers += 1
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def _fly(self, key: Hashable, flight: Flight[T], work: Callable[[], T]) -> None:
        try:
            flight._run(work)
        finally:
            with self._lock:
                del self._flights[key]

    def run(self, key: Hashable, work: Callable[[], T], *, timeout: float) -> T:
        return self.launch(key, work).result(timeout)

    def followers(self, key: Hashable) -> int:
        """How many callers joined the running flight for `key` after it started."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.followers if flight else 0
