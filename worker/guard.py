"""JobGuard: lets a running task notice, between pages, that its job was cancelled or failed."""

from __future__ import annotations

import time

from worker.jobs import JobState, JobStore

CHECK_INTERVAL_SECONDS = 0.5  # one Redis read per half second at most, however fast the pages


class JobStopped(Exception):
    """The job is no longer running (cancelled, or failed elsewhere); stop cooperatively."""

    def __init__(self, state: JobState | None) -> None:
        super().__init__(f"job is {state.value if state else 'gone'}")
        self.state = state


class JobGuard:
    def __init__(self, jobs: JobStore, job_id: str) -> None:
        self._jobs = jobs
        self._job_id = job_id
        self._next_check = 0.0

    def check(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        self._next_check = now + CHECK_INTERVAL_SECONDS
        state = self._jobs.state(self._job_id)
        if state != JobState.RUNNING:
            raise JobStopped(state)
