"""RefreshLock: one refresher at a time across every token-service replica.

`SET key owner NX PX lease` with a random owner; release only deletes the key while it
still holds our owner value, so a holder whose lease ran out can never release the lock
of its successor.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Iterator

import redis

log = logging.getLogger(__name__)

_EXTEND_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RefreshLock:
    def __init__(self, client: redis.Redis, key: str, lease_seconds: float) -> None:
        self._client = client
        self.key = key
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.owner = secrets.token_hex(16)
        self._release = client.register_script(_RELEASE_IF_OWNER)
        self._extend = client.register_script(_EXTEND_IF_OWNER)

    def try_acquire(self) -> bool:
        return bool(self._client.set(self.key, self.owner, nx=True, px=self.lease_ms))

    def remaining_seconds(self) -> float:
        """Lease left while we own the lock; 0 when it is gone or someone else's."""
        pipe = self._client.pipeline(transaction=True)
        pipe.get(self.key)
        pipe.pttl(self.key)
        holder, ttl_ms = pipe.execute()
        if holder != self.owner or ttl_ms is None or ttl_ms < 0:
            return 0.0
        return float(ttl_ms) / 1000.0

    def extend(self) -> bool:
        """Reset the lease to its full length, if we still own the lock."""
        return bool(self._extend(keys=[self.key], args=[self.owner, self.lease_ms]))

    @contextlib.contextmanager
    def renewed(self) -> Iterator[None]:
        """Keep the lease full while the block runs, from a thread of this process: the
        lock then lasts as long as its holder lives, and a crashed holder's lease runs
        out on its own."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_ms / 3000):
                try:
                    if not self.extend():
                        log.warning("refresh lock lost while refreshing key=%s", self.key)
                        return
                except redis.RedisError as exc:
                    log.warning("could not extend the refresh lock error=%s", exc)

        thread = threading.Thread(target=renew, name="refresh-lock-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self) -> bool:
        return bool(self._release(keys=[self.key], args=[self.owner]))
