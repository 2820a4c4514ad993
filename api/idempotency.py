"""Idempotency-Key: a retried submission returns the job it already created.

Keys are scoped to the API key (by its name) that used them and kept 24 hours. The same key with a
different body is a client bug and gets a 422, never a second job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis

KEY_PREFIX = "rxp:idem:"
TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    job_id: str
    replayed: bool  # True: the key was used before, with this same body


class IdempotencyConflict(Exception):
    """The key was already used with a different request body."""


def body_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def _key(self, api_key_name: str, idempotency_key: str) -> str:
        scope = hashlib.sha256(api_key_name.encode()).hexdigest()[:16]
        key = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return f"{KEY_PREFIX}{scope}:{key}"

    def claim(
        self, api_key_name: str, idempotency_key: str, body: dict[str, Any], new_job_id: str
    ) -> Claim:
        """Reserve the key for `new_job_id`, or return the job it already stands for."""
        key = self._key(api_key_name, idempotency_key)
        record = json.dumps({"job_id": new_job_id, "body": body_fingerprint(body)})
        if self._client.set(key, record, nx=True, ex=TTL_SECONDS):
            return Claim(new_job_id, replayed=False)
        existing = self._client.get(key)
        if existing is None:  # expired between the two calls: claim again
            return self.claim(api_key_name, idempotency_key, body, new_job_id)
        stored = json.loads(existing)
        if stored["body"] != body_fingerprint(body):
            raise IdempotencyConflict(idempotency_key)
        return Claim(str(stored["job_id"]), replayed=True)

    def release(self, api_key_name: str, idempotency_key: str) -> None:
        """Forget a claim whose job could not be created, so a retry can succeed."""
        self._client.delete(self._key(api_key_name, idempotency_key))
