"""A daemon thread that runs one chore every interval until stopped; the chores of the
token service (keep-alive, state watch) differ only in what they do and what they log."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    def __init__(self, name: str, interval: float, chore: Callable[[], None]) -> None:
        self._interval = interval
        self._chore = chore
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._chore()
