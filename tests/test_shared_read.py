"""SharedRead (token_service/shared_read.py), pure: who shares a read and who starts one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from token_service.shared_read import SharedRead


class _Gate:
    """A blocking read that returns (or raises) only when the test opens it."""

    def __init__(self, outcome: object) -> None:
        self.calls = 0
        self.opened = threading.Event()
        self._outcome = outcome

    def __call__(self) -> object:
        self.calls += 1
        self.opened.wait(10)
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome


async def _waiters(read: SharedRead[object], count: int) -> list[asyncio.Task[object]]:
    tasks = [asyncio.ensure_future(read()) for _ in range(count)]
    await asyncio.sleep(0)  # every task has joined before the read is let go
    return tasks


def test_callers_during_a_read_share_it_and_later_ones_start_another() -> None:
    async def scenario() -> tuple[list[object], int, bool]:
        gate = _Gate("token")
        read: SharedRead[object] = SharedRead(gate)
        tasks = await _waiters(read, 50)
        gate.opened.set()
        values = await asyncio.gather(*tasks)
        after = await read()
        return [*values, after], gate.calls, read.running

    values, calls, running = asyncio.run(scenario())
    assert values == ["token"] * 51
    assert calls == 2
    assert running is False


def test_a_failed_read_fails_every_caller_who_shared_it_and_is_not_kept() -> None:
    async def scenario() -> tuple[list[BaseException | object], int]:
        gate = _Gate(RuntimeError("refresh failed"))
        read: SharedRead[object] = SharedRead(gate)
        tasks = await _waiters(read, 5)
        gate.opened.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        with pytest.raises(RuntimeError):
            await read()
        return outcomes, gate.calls

    outcomes, calls = asyncio.run(scenario())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1  # the same exception, not five reads
    assert calls == 2


def test_a_caller_that_goes_away_does_not_cancel_the_read_for_the_others() -> None:
    async def scenario() -> tuple[object, bool]:
        gate = _Gate("token")
        read: SharedRead[object] = SharedRead(gate)
        leaver, stayer = await _waiters(read, 2)
        leaver.cancel()
        await asyncio.sleep(0)
        gate.opened.set()
        return await stayer, leaver.cancelled()

    value, cancelled = asyncio.run(scenario())
    assert (value, cancelled) == ("token", True)
