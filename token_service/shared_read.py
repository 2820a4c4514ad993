"""SharedRead: on one event loop, callers who ask while a blocking read runs share it.

The first caller starts the read in a thread; everyone who asks before it finishes
awaits that same outcome (the same value or the same exception) instead of starting
their own. Only the read runs in a thread: the waiting is done by the event loop, so
200 callers waiting on one token refresh cost 200 awaiting tasks, not 200 threads that
all wake at once and queue for the GIL when the refresh lands.

A caller may get a value read a moment before it asked (the read already ran when it
joined). For a token that is the same as having asked a moment earlier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._running: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._running is None:
            running = asyncio.ensure_future(asyncio.to_thread(self._read))
            running.add_done_callback(self._finished)
            self._running = running
        # shield: a caller that goes away must not cancel the read the others wait for.
        return await asyncio.shield(self._running)

    def _finished(self, done: asyncio.Future[T]) -> None:
        self._running = None
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone before it failed

    @property
    def running(self) -> bool:
        return self._running is not None
