"""A sliding one-second window: at most R requests are admitted in any second."""

from __future__ import annotations

import threading
import time
from collections import deque


class SlidingWindowLimiter:
    """Admits a request if fewer than `rps` were admitted in the last second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()

    def admit(self, rps: float | None) -> bool:
        if not rps:
            return True
        now = time.monotonic()
        with self._lock:
            while self._admitted and self._admitted[0] <= now - 1.0:
                self._admitted.popleft()
            if len(self._admitted) >= rps:
                return False
            self._admitted.append(now)
            return True
