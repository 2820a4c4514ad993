"""SingleFlight: concurrent callers for one key share one execution and its outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.waiting import wait_until
from token_service.single_flight import FlightTimeout, SingleFlight


def test_concurrent_callers_share_one_execution() -> None:
    flights: SingleFlight[int] = SingleFlight("test")
    release = threading.Event()
    calls = []

    def work() -> int:
        calls.append(1)
        release.wait(10)
        return 42

    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(flights.run, "g1", work, timeout=10) for _ in range(20)]
        wait_until(lambda: flights.followers("g1") == 19, timeout=10, what="19 followers parked")
        release.set()
        results = [f.result() for f in futures]
    assert results == [42] * 20
    assert len(calls) == 1


def test_followers_get_the_leaders_exception() -> None:
    flights: SingleFlight[int] = SingleFlight("test")
    started = threading.Event()
    release = threading.Event()

    def failing() -> int:
        started.set()
        release.wait(10)
        raise ValueError("refresh refused")

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(flights.run, "g", failing, timeout=10)
        started.wait(10)
        follower = pool.submit(flights.run, "g", lambda: 0, timeout=10)
        wait_until(lambda: flights.followers("g") == 1, timeout=10, what="follower parked")
        release.set()
        with pytest.raises(ValueError, match="refused"):
            leader.result()
        with pytest.raises(ValueError, match="refused"):
            follower.result()


def test_a_caller_gives_up_waiting_but_the_work_goes_on() -> None:
    flights: SingleFlight[int] = SingleFlight("test")
    started = threading.Event()
    release = threading.Event()

    def slow() -> int:
        started.set()
        release.wait(10)
        return 1

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(flights.run, "g", slow, timeout=10)
        started.wait(10)
        with pytest.raises(FlightTimeout):
            flights.run("g", lambda: 2, timeout=0.05)
        release.set()
        assert leader.result() == 1


def test_different_keys_run_independently() -> None:
    flights: SingleFlight[str] = SingleFlight("test")
    assert flights.run(1, lambda: "a", timeout=1) == "a"
    assert flights.run(2, lambda: "b", timeout=1) == "b"


def test_inline_the_first_caller_runs_the_work_in_its_own_thread() -> None:
    flights: SingleFlight[int] = SingleFlight("test")
    ran_in: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def work() -> int:
        ran_in.append(threading.get_ident())
        started.set()
        release.wait(10)
        return 7

    def leader() -> tuple[int, int]:
        return threading.get_ident(), flights.run_inline("g", work, timeout=10)

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(leader)
        started.wait(10)
        followers = [pool.submit(flights.run_inline, "g", lambda: 0, timeout=10) for _ in range(2)]
        wait_until(lambda: flights.followers("g") == 2, timeout=10, what="2 followers parked")
        release.set()
        leader_thread, value = first.result()
        assert [f.result() for f in followers] == [7, 7]
    assert value == 7
    assert ran_in == [leader_thread]
    # The flight is over: the next call runs the work again.
    assert flights.run_inline("g", lambda: 8, timeout=1) == 8


def test_inline_followers_wait_at_most_their_timeout() -> None:
    flights: SingleFlight[int] = SingleFlight("test")
    started = threading.Event()
    release = threading.Event()

    def slow() -> int:
        started.set()
        release.wait(10)
        return 1

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(flights.run_inline, "g", slow, timeout=10)
        started.wait(10)
        with pytest.raises(FlightTimeout):
            flights.run_inline("g", lambda: 2, timeout=0.05)
        release.set()
        assert leader.result() == 1
