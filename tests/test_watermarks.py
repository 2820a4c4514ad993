"""The kept watermarks (real Redis): they only move forward, and never past a gap."""

from __future__ import annotations

import redis

from jobs.model import FULL_EXPORT
from jobs.watermarks import ExportedSpan, WatermarkStore
from worker.project_export import comments_since

P, Q = "2e09e63a-7a8a-4eee-b193-56a3175d2b12", "063d1ce6-8a1a-467c-9a24-2dd91660b2de"


def test_watermarks_move_forward_only_and_never_past_a_gap(redis_url: str) -> None:
    store = WatermarkStore(redis.Redis.from_url(redis_url, decode_responses=True))
    assert store.get("files", P) is None
    # An export since some moment, with nothing kept, does not cover the project's past
    store.advance("files", [ExportedSpan(P, "2026-11-01 00:00:00", "2026-11-02 00:00:00")])
    assert store.get("files", P) is None
    store.advance("files", [ExportedSpan(P, FULL_EXPORT, "2026-11-10 08:00:00")])
    assert store.get("files", P) == "2026-11-10 08:00:00"
    # From the kept one (or earlier): forward
    store.advance("files", [ExportedSpan(P, "2026-11-10 08:00:00", "2026-11-11 08:00:00")])
    assert store.get("files", P) == "2026-11-11 08:00:00"
    # Finishing out of order never takes it back
    store.advance("files", [ExportedSpan(P, FULL_EXPORT, "2026-11-10 09:00:00")])
    assert store.get("files", P) == "2026-11-11 08:00:00"
    # Read since a moment after the kept one: a gap, so it stays
    store.advance("files", [ExportedSpan(P, "2026-11-12 00:00:00", "2026-11-13 00:00:00")])
    assert store.get("files", P) == "2026-11-11 08:00:00"
    store.advance("files", [ExportedSpan(Q, FULL_EXPORT, "2026-11-11 09:00:00")])
    assert store.all("files") == {P: "2026-11-11 08:00:00", Q: "2026-11-11 09:00:00"}
    assert store.all("database:reporting") == {}


def test_comments_are_asked_for_from_the_day_before_the_watermark() -> None:
    assert comments_since("2026-12-01 00:00:05") == "2026-11-30"
    assert comments_since("2026-03-01 23:59:59") == "2026-02-28"
    assert comments_since("0019-08-20 03:30:31") == "0019-08-19"  # years stay 4 digits
