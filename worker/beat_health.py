"""Celery beat's liveness, for its container health check: `python -m worker.beat_health`.

Beat has no port to probe. While it runs, a thread started on `beat_init` refreshes a
short-lived key in Redis; the check passes while the key exists, so it proves both that
beat is alive and that it reaches the broker its schedule goes through.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import redis

log = logging.getLogger(__name__)

KEY = "rxp:beat:alive"
BEAT_SECONDS = 15.0
# Missed beats tolerated: a Redis blip of a few seconds is not a dead scheduler.
TTL_SECONDS = 60


def keep_alive(redis_url: str) -> threading.Thread:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)

    def beat() -> None:
        while True:
            try:
                client.set(KEY, repr(time.time()), ex=TTL_SECONDS)
            except redis.RedisError as exc:
                log.warning("beat liveness not recorded error=%s", type(exc).__name__)
            time.sleep(BEAT_SECONDS)

    thread = threading.Thread(target=beat, name="beat-alive", daemon=True)
    thread.start()
    return thread


def main() -> int:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        alive = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).exists(KEY)
    except redis.RedisError as exc:
        print(f"unhealthy reason=redis unreachable ({type(exc).__name__})", file=sys.stderr)
        return 1
    if not alive:
        print(f"unhealthy reason=beat has not refreshed {KEY} for {TTL_SECONDS}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
