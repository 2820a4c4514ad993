"""The watermark of each project's last successful export, per destination, kept by the
service so that `"mode": "incremental"` needs nothing from the caller.

A watermark is Revizto's `synchronized` value (`YYYY-MM-DD HH:MM:SS`, UTC) from the first
issue page of that export: the next incremental export asks for what changed since then.
Watermarks live in Redis beside the job records (same durability) and only move forward:
two jobs finishing out of order never take a project's watermark back. An export moves it
only if it covered everything since the stored one (it was full, or read since a moment no
later than it): an explicit `updated_since` later than the watermark must not make the next
incremental export skip what changed in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from jobs.model import FULL_EXPORT

KEY_PREFIX = "rxp:watermarks:"

# ARGV: (project, since, watermark) triples; `since` is FULL_EXPORT or a watermark.
# Revizto's format sorts as text, so "newer" is ">".
_ADVANCE = """
for i = 1, #ARGV, 3 do
  local project, since, watermark = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', KEYS[1], project)
  local covered = since == '@FULL@' or (current and since <= current)
  if covered and (not current or watermark > current) then
    redis.call('HSET', KEYS[1], project, watermark)
  end
end
return 1
""".replace("@FULL@", FULL_EXPORT)


@dataclass(frozen=True)
class ExportedSpan:
    """One project's successful export: what it read since, and its new watermark."""

    project_uuid: str
    since: str  # FULL_EXPORT or a watermark
    watermark: str


class WatermarkStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._advance = client.register_script(_ADVANCE)

    @staticmethod
    def key(destination: str) -> str:
        return f"{KEY_PREFIX}{destination}"

    def get(self, destination: str, project_uuid: str) -> str | None:
        value = self.client.hget(self.key(destination), project_uuid)
        return value.decode() if isinstance(value, bytes) else value

    def all(self, destination: str) -> dict[str, str]:
        """Every project's watermark for `destination`, by project uuid."""
        raw = self.client.hgetall(self.key(destination))
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }

    def advance(self, destination: str, spans: list[ExportedSpan]) -> None:
        """Move each project's watermark forward to its span's (never back, never past a
        gap)."""
        if not spans:
            return
        args: list[str] = []
        for span in spans:
            args += [span.project_uuid, span.since, span.watermark]
        self._advance(keys=[self.key(destination)], args=args)
