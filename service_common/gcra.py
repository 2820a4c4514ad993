"""GCRA (the generic cell rate algorithm) that *reserves* the next free slot: once in Lua for
the one schedule in Redis that the whole cluster shares, once in Python for a process alone.

State is one number, the theoretical arrival time (TAT) of the next request. A caller
reserves the slot `max(start, TAT - tolerance)` and moves TAT on by one emission interval;
it is told how long to wait for its slot instead of being refused, so a burst of callers
queues up evenly spaced rather than retrying in a herd. `start` is now, or the cluster's
"not before" time while Revizto asked everybody to pause.

Why not the `limits` library: its strategies (fixed, moving and sliding windows) answer
only "allowed now, yes or no" plus when the window resets, so a caller that must wait
would poll; every waiting caller would wake at the same reset and race again. A
reservation needs the read-modify-write to happen in Redis, which a dozen lines of Lua do
atomically. Times are Redis's own clock (TIME), in microseconds, so the hosts' clocks
never matter: a caller only ever gets back a duration.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis

MICROSECONDS = 1_000_000

# KEYS: TAT, not-before. ARGV: emission interval, tolerance (µs).
# Returns the wait in µs until the reserved slot.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local start = now
local not_before = tonumber(redis.call('GET', KEYS[2]) or '0')
if not_before > start then start = not_before end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < start then tat = start end
local slot = tat - tolerance
if slot < start then slot = start end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
           'PX', math.ceil((next_tat - now) / 1000) + 1000)
return slot - now
"""

# KEYS: TAT, not-before. ARGV: pause, tolerance (µs).
# Moves not-before to now + pause unless it is already later (never earlier), and restarts
# the schedule there without a burst: Revizto just said our pace was too fast.
# Returns how long the cluster is paused from now, in µs.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local not_before = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > not_before then
  not_before = current
else
  redis.call('SET', KEYS[2], string.format('%.0f', not_before),
             'PX', math.ceil((not_before - now) / 1000) + 1000)
end
local resume = not_before + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < resume then
  redis.call('SET', KEYS[1], string.format('%.0f', resume),
             'PX', math.ceil((resume - now) / 1000) + 1000)
end
return not_before - now
"""

# KEYS: not-before. Returns how long the cluster is still paused, in µs (0: not paused).
_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local not_before = tonumber(redis.call('GET', KEYS[1]) or '0')
if not_before > now then return not_before - now end
return 0
"""


@dataclass(frozen=True)
class Pace:
    """`rate` requests per second on average; up to `burst` of them at once after a quiet
    spell (1: strictly evenly spaced)."""

    rate: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("rate must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of now the schedule may run before callers must wait."""
        return (self.burst - 1) * self.interval


class RedisSchedule:
    """The cluster's schedule: two keys in Redis, changed only by the scripts above."""

    def __init__(self, client: redis.Redis, pace: Pace, *, prefix: str) -> None:
        self._pace = pace
        self._keys = [f"{prefix}:tat", f"{prefix}:not_before"]
        self._reserve = client.register_script(_RESERVE)
        self._pause = client.register_script(_PAUSE)
        self._paused_for = client.register_script(_PAUSED_FOR)

    def reserve(self) -> float:
        """Take the next slot; seconds to wait for it."""
        pace = self._pace
        args = [_us(pace.interval), _us(pace.tolerance)]
        return int(self._reserve(keys=self._keys, args=args)) / MICROSECONDS

    def pause(self, seconds: float) -> float:
        """No slot before now + `seconds` (or a later pause already set); seconds paused."""
        args = [_us(seconds), _us(self._pace.tolerance)]
        return int(self._pause(keys=self._keys, args=args)) / MICROSECONDS

    def paused_for(self) -> float:
        return int(self._paused_for(keys=self._keys[1:])) / MICROSECONDS


class LocalSchedule:
    """The same schedule for one process, on its monotonic clock (the fallback)."""

    def __init__(self, pace: Pace) -> None:
        self._pace = pace
        self._lock = threading.Lock()
        self._tat = 0.0
        self._not_before = 0.0

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._not_before)
            tat = max(self._tat, start)
            slot = max(start, tat - self._pace.tolerance)
            self._tat = tat + self._pace.interval
            return slot - now

    def pause(self, seconds: float) -> float:
        with self._lock:
            now = time.monotonic()
            self._not_before = max(self._not_before, now + seconds)
            self._tat = max(self._tat, self._not_before + self._pace.tolerance)
            return self._not_before - now

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._not_before - time.monotonic())


def _us(seconds: float) -> int:
    return max(0, round(seconds * MICROSECONDS))
