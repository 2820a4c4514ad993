"""When does an HTTP 5xx from the token endpoint mean a dead refresh token?

Revizto answers a corrupt refresh token with HTTP 500 on some tenants, which a client
cannot tell from a failing server. The only tell is persistence: the same token keeps
failing while the rest of Revizto answers. This policy paces the attempts (every replica
honours the pause, since it lives in Redis) and says when the failures have persisted
long enough to ask that question. Pure: the manager stores the record and asks Revizto.
"""

from __future__ import annotations

from dataclasses import dataclass

from token_service import defaults
from token_service.state import Failing


@dataclass(frozen=True)
class FailingPolicy:
    attempts: int  # TOKEN_REFRESH_FAILING_ATTEMPTS
    window: float  # TOKEN_REFRESH_FAILING_SECONDS

    def after_round(
        self, failing: Failing | None, refresh_token_fp: str, requests: int, now: float
    ) -> Failing:
        """The record after one more failed round of `requests` refresh requests.

        The first retry may follow at once (a blip passes); then the pause doubles from an
        eighth of the window, so the window is crossed within a handful of requests
        however often callers ask: 3 + 1 + 1 + 1 + 1 + 1 = 8 at most, below
        MAX_REFUSED_REQUESTS.
        """
        if failing is None or failing.refresh_token_fp != refresh_token_fp:
            failing = Failing(refresh_token_fp, 0, 0, now, now)
        rounds = failing.rounds + 1
        pause = 0.0 if rounds == 1 else min(self.window, self.window / 8 * 2 ** (rounds - 2))
        return Failing(
            refresh_token_fp=refresh_token_fp,
            requests=failing.requests + max(1, requests),
            rounds=rounds,
            first_at=failing.first_at,
            next_at=now + pause,
        )

    def persisted(self, failing: Failing, now: float) -> bool:
        """Long and often enough to suspect the token (if the rest of Revizto answers)."""
        return (
            failing.requests >= self.attempts and now - failing.first_at >= self.window
        ) or failing.requests >= defaults.MAX_REFUSED_REQUESTS
