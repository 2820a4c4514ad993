"""Keep-alive: use the credential now and then, so an idle exporter's never dies of disuse.

The service refreshes only when somebody asks for a token, and Revizto's refresh tokens
expire after about a month unused: an exporter idle for a month would wake up needing a
human. Every interval this chore asks for a token like any caller; if the access token
has run out meanwhile, that is a normal refresh (single flight still applies), which
rotates the refresh token and resets its age.
"""

from __future__ import annotations

import logging

import redis

from token_service.manager import ReauthRequired, TokenManager, TokenUnavailable
from token_service.periodic import Periodic

log = logging.getLogger(__name__)


def keep_alive(manager: TokenManager, interval: float) -> Periodic:
    def use_the_credential() -> None:
        try:
            state = manager.get_token()
            log.debug("keep-alive generation=%d", state.generation)
        except ReauthRequired as exc:
            log.warning("keep-alive: re-authentication required reason=%s", exc.reason)
        except (TokenUnavailable, redis.RedisError) as exc:
            log.warning("keep-alive could not get a token error=%s", exc)

    return Periodic("token-keepalive", interval, use_the_credential)
