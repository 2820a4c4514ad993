"""The retry policy for every Revizto call: which failures, how often, how long to wait.

Only TransientError is retried (network, timeout, HTTP 5xx, HTTP 429 / result -2300).
Everything else is an answer, and asking again would get the same answer.
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
    wait_exponential,
    wait_random,
)

from revizto.errors import RateLimited, TransientError

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3  # the seed's "3 attempts with exponential backoff"
DEFAULT_INITIAL_BACKOFF = 0.5  # seconds before the second attempt (plus jitter)
DEFAULT_MAX_BACKOFF = 8.0
DEFAULT_JITTER = 0.5  # up to this many seconds added, so replicas do not retry in step
DEFAULT_RETRY_AFTER_CAP = 30.0  # never let a Retry-After header park a worker for long


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    initial_backoff: float = DEFAULT_INITIAL_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    jitter: float = DEFAULT_JITTER
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return replace(self, attempts=attempts)

    def worst_case_waiting(self) -> float:
        """Upper bound of the time spent sleeping between attempts (not in requests)."""
        per_wait = max(self.max_backoff + self.jitter, self.retry_after_cap)
        return per_wait * max(0, self.attempts - 1)

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
                "retrying call=%s attempt=%d/%d wait_s=%.2f error=%s",
                what,
                state.attempt_number,
                self.attempts,
                state.upcoming_sleep,
                type(error).__name__,
            )

        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
