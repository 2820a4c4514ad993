"""KeepAlive: use the credential now and then, so an idle exporter's never dies of disuse.

The service refreshes only when somebody asks for a token, and Revizto's refresh tokens
expire after about a month unused: an exporter idle for a month would wake up needing a
human. Every interval this thread asks for a token like any caller; if the access token
has run out meanwhile, that is a normal refresh (single flight still applies), which
rotates the refresh token and resets its age.
"""

from __future__ import annotations

import logging
import threading

import redis

from token_service.manager import ReauthRequired, TokenManager, TokenUnavailable

log = logging.getLogger(__name__)


class KeepAlive:
    def __init__(self, manager: TokenManager, interval: float) -> None:
        self._manager = manager
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="token-keepalive", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                state = self._manager.get_token()
                log.debug("keep-alive generation=%d", state.generation)
            except ReauthRequired as exc:
                log.warning("keep-alive: re-authentication required reason=%s", exc.reason)
            except (TokenUnavailable, redis.RedisError) as exc:
                log.warning("keep-alive could not get a token error=%s", exc)
