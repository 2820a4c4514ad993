"""Does Revizto answer at all? The tie-breaker for an ambiguous refresh refusal.

An HTTP 500 from the token endpoint is either a server failure (wait, it will pass) or
Revizto's answer to a corrupt refresh token (a person must re-authenticate). When the rest
of Revizto answers normally while the token endpoint keeps failing for the same token, the
token is the likelier culprit. Any reply below 500 counts as an answer, a 401 included:
the probe's access token may well have expired, and an application that says so is up.
"""

from __future__ import annotations

import logging

from revizto.errors import TransientError
from revizto.retry import RetryPolicy
from revizto.transport import Timeouts, Transport

log = logging.getLogger(__name__)

PROBE_PATH = "v5/user"
PROBE_TIMEOUTS = Timeouts(connect=3.0, read=10.0)


class ReviztoLiveness:
    def __init__(self, base_url: str, *, timeouts: Timeouts = PROBE_TIMEOUTS) -> None:
        self._transport = Transport(
            base_url, timeouts=timeouts, retry_policy=RetryPolicy(attempts=1)
        )

    def answers(self, access_token: str) -> bool:
        try:
            reply = self._transport.send(
                "GET", PROBE_PATH, endpoint="user", bearer=access_token or None
            )
        except TransientError as exc:
            log.info("Revizto liveness probe failed error=%s", exc)
            return False
        return reply.status < 500
