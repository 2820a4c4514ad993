"""The back-off after ambiguous 5xx refusals, as pure logic: its schedule, and the bound
on requests it lets reach Revizto before the token may be judged."""

from __future__ import annotations

import pytest

from token_service.failing import FailingPolicy
from token_service.state import Failing


def test_the_first_retry_is_immediate_then_pauses_double_from_an_eighth_of_the_window() -> None:
    policy = FailingPolicy(attempts=5, window=80.0)
    failing = policy.after_round(None, "fp", requests=3, now=1000.0)
    pauses = [failing.next_at - 1000.0]
    now = 1000.0
    for _ in range(5):
        now = failing.next_at
        failing = policy.after_round(failing, "fp", requests=1, now=now)
        pauses.append(failing.next_at - now)
    assert pauses == [0.0, 10.0, 20.0, 40.0, 80.0, 80.0]
    assert (failing.requests, failing.rounds, failing.first_at) == (8, 6, 1000.0)


@pytest.mark.parametrize("first_round", [1, 3])
def test_however_callers_pace_themselves_it_persists_within_ten_requests(
    first_round: int,
) -> None:
    policy = FailingPolicy(attempts=5, window=300.0)
    failing: Failing | None = None
    now = 0.0
    for _ in range(20):
        failing = policy.after_round(
            failing, "fp", requests=first_round if not failing else 1, now=now
        )
        if policy.persisted(failing, now):
            break
        now = failing.next_at  # the most eager caller: at the first allowed moment
    assert failing is not None
    assert policy.persisted(failing, now)
    assert now - failing.first_at >= 300.0
    assert failing.requests <= 10


def test_a_record_about_another_token_starts_again() -> None:
    policy = FailingPolicy(attempts=5, window=80.0)
    old = policy.after_round(None, "old", requests=3, now=0.0)
    fresh = policy.after_round(old, "new", requests=1, now=50.0)
    assert (fresh.refresh_token_fp, fresh.requests, fresh.first_at) == ("new", 1, 50.0)


def test_requests_alone_reach_the_hard_bound() -> None:
    policy = FailingPolicy(attempts=5, window=10_000.0)
    failing = Failing("fp", requests=10, rounds=4, first_at=0.0, next_at=0.0)
    assert policy.persisted(failing, now=1.0)
    assert not policy.persisted(Failing("fp", 9, 4, 0.0, 0.0), now=1.0)
