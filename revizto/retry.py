"""The retry policy for every Revizto call: which failures, how often, how long to wait.

Only TransientError is retried (network, timeout, HTTP 5xx, HTTP 429 / result -2300).
Everything else is an answer, and asking again would get the same answer.

By default a call gets 3 attempts (the token service's refreshes, the API). An export
unit instead retries for as long as `max_elapsed` allows, and hears about every retry
through `on_retry` so the operator can see it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base

from revizto.errors import RateLimited, TransientError

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3  # the seed's "3 attempts with exponential backoff"
DEFAULT_INITIAL_BACKOFF = 0.5  # seconds before the second attempt (plus jitter)
DEFAULT_MAX_BACKOFF = 8.0
DEFAULT_JITTER = 0.5  # up to this many seconds added, so replicas do not retry in step
DEFAULT_RETRY_AFTER_CAP = 30.0  # never let a Retry-After header park a worker for long


@dataclass(frozen=True)
class RetryEvent:
    """A failed attempt that will be retried after `wait` seconds."""

    what: str
    attempt: int
    wait: float
    error: BaseException | None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int | None = DEFAULT_ATTEMPTS  # None: as many as `max_elapsed` allows
    initial_backoff: float = DEFAULT_INITIAL_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    jitter: float = DEFAULT_JITTER
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    # Give up once a call has kept failing for this long (None: only `attempts` counts).
    max_elapsed: float | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, compare=False, repr=False)

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return replace(self, attempts=attempts)

    def worst_case_waiting(self) -> float:
        """Upper bound of the time spent sleeping between attempts (not in requests)."""
        per_wait = max(self.max_backoff + self.jitter, self.retry_after_cap)
        if self.attempts is None:
            return (self.max_elapsed or 0.0) + per_wait
        return per_wait * max(0, self.attempts - 1)

    def _stop(self) -> stop_base:
        stop: stop_base = stop_never
        if self.attempts is not None:
            stop = stop_after_attempt(self.attempts)
        if self.max_elapsed is not None:
            by_time = stop_after_delay(self.max_elapsed)
            stop = by_time if self.attempts is None else stop | by_time
        return stop

    def retrying(self, what: str) -> Retrying:
        """A tenacity controller; `what` names the call in the retry log line."""
        # initial * 2**n capped at max_backoff, plus up to `jitter` seconds of noise.
        backoff = wait_exponential(
            multiplier=self.initial_backoff, max=self.max_backoff
        ) + wait_random(0, self.jitter)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimited) and error.retry_after is not None:
                # Revizto asked for this pause; waiting less would just earn another 429.
                return min(error.retry_after, self.retry_after_cap)
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying call=%s attempt=%d/%s wait_s=%.2f error=%s",
                what,
                state.attempt_number,
                self.attempts or "-",
                state.upcoming_sleep,
                type(error).__name__,
            )
            if self.on_retry is not None:
                self.on_retry(RetryEvent(what, state.attempt_number, state.upcoming_sleep, error))

        return Retrying(
            stop=self._stop(),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
