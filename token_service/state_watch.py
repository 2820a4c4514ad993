"""State watch: re-seed Redis from appsettings.json when it lost the credential.

The service bootstraps when a caller finds Redis empty; but a Redis restarted without its
data while nobody asks for tokens (a quiet night) would leave `/readyz` failing until the
first export, and the credential gauges missing. This chore notices within an interval
and bootstraps in the background, exactly as a caller would (one bootstrap, under the lock).
"""

from __future__ import annotations

import logging

import redis

from token_service.manager import TokenManager, TokenUnavailable
from token_service.periodic import Periodic
from token_service.sealing import SealingProblem

log = logging.getLogger(__name__)


def state_watch(manager: TokenManager, interval: float) -> Periodic:
    def reseed_if_lost() -> None:
        try:
            if manager.rebootstrap_if_lost():
                log.warning("token state was missing from Redis; re-seeded it")
        except (TokenUnavailable, redis.RedisError, SealingProblem) as exc:
            log.warning("token state check failed error=%s; trying again", exc)

    return Periodic("token-state-watch", interval, reseed_if_lost)
