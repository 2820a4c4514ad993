"""Counters a test reads to assert what the sandbox saw ("exactly one refresh")."""

from __future__ import annotations

import threading
from typing import Any


class Stats:
    """Thread-safe request counters, in the shape architecture.md fixes for `/_sandbox/stats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._reset()

    def _reset(self) -> None:
        self._grants = {
            "authorization_code": {"ok": 0, "rejected": 0},
            "refresh_token": {"ok": 0, "rejected": 0, "aborted": 0},
        }
        self._malformed = 0
        self._token_requests = 0
        self._data_requests = 0
        self._responses = {"401": 0, "429": 0, "5xx": 0}
        self._peak = self._in_flight
        self._reused = 0

    def reset(self) -> None:
        with self._lock:
            self._reset()
            # Requests still running would otherwise push the peak past the reset.
            self._peak = 0

    def grant(self, grant_type: str, outcome: str) -> None:
        """Count a token-endpoint outcome: ok, rejected or aborted."""
        with self._lock:
            self._grants[grant_type][outcome] += 1

    def token_request(self) -> None:
        """A request reached the token endpoint (counted before any fault or delay, so a
        test knows a caller's request is in, and may now kill the caller)."""
        with self._lock:
            self._token_requests += 1

    def malformed(self) -> None:
        with self._lock:
            self._malformed += 1

    def refresh_reused(self) -> None:
        with self._lock:
            self._reused += 1

    def data_started(self) -> None:
        with self._lock:
            self._data_requests += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def data_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def response(self, status: int) -> None:
        key = (
            "401" if status == 401 else "429" if status == 429 else "5xx" if status >= 500 else None
        )
        if key is not None:
            with self._lock:
                self._responses[key] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "token_endpoint": {
                    "authorization_code": dict(self._grants["authorization_code"]),
                    "refresh_token": dict(self._grants["refresh_token"]),
                    "malformed": self._malformed,
                    "requests": self._token_requests,
                },
                "data_requests": self._data_requests,
                "responses_401": self._responses["401"],
                "responses_429": self._responses["429"],
                "responses_5xx": self._responses["5xx"],
                "data_in_flight_peak": self._peak,
                "refresh_tokens_reused": self._reused,
            }
