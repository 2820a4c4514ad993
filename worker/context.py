"""WorkerContext: the per-process connections a task uses (Redis, token service, Revizto).

Built lazily in the pool process that runs the task, never in the parent before the
fork, so no socket is shared between processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import redis

from revizto.client import ReviztoClient
from worker.jobs import JobStore
from worker.metrics import observe_api_request
from worker.settings import WorkerSettings
from worker.token_client import TokenServiceProvider


@dataclass
class WorkerContext:
    settings: WorkerSettings
    redis: redis.Redis
    jobs: JobStore
    tokens: TokenServiceProvider
    _client: ReviztoClient | None = field(default=None, repr=False)

    def client(self) -> ReviztoClient:
        """The Revizto client; its base URL is the token service's unless overridden."""
        if self._client is None:
            base_url = self.settings.base_url_override
            if base_url is None:
                self.tokens.current_token()
                base_url = self.tokens.base_url
            if not base_url:
                raise RuntimeError("no Revizto base URL: set REVIZTO_BASE_URL")
            self._client = ReviztoClient(base_url, self.tokens, observer=observe_api_request)
        return self._client


_context: WorkerContext | None = None
_context_pid: int | None = None


def context(settings: WorkerSettings) -> WorkerContext:
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        client = redis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30
        )
        _context = WorkerContext(
            settings=settings,
            redis=client,
            jobs=JobStore(client),
            tokens=TokenServiceProvider(settings.token_service_url, settings.token_service_secret),
        )
        _context_pid = os.getpid()
    return _context
