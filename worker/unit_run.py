"""UnitRun: one worker's ownership of one unit of a job, from claim to final state.

Ownership is what makes redelivery safe. A unit is claimed with a compare-and-set; while
it runs, a heartbeat thread renews it in Redis; every write the unit makes (progress,
checkpoints, file entries) is applied only while it still owns the unit. A worker that
lost its unit (the reaper gave it to another worker after its heartbeat went stale, or
the job was cancelled) learns so at its next heartbeat or page and stops without writing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence

from jobs.model import JobError
from jobs.states import JobState, UnitState
from jobs.store import Claim, JobStore, Write
from revizto.retry import RetryEvent

log = logging.getLogger(__name__)

JOB_CHECK_INTERVAL_SECONDS = 0.5  # one Redis read per half second at most, however fast pages
SLEEP_SLICE_SECONDS = 0.5  # a retry pause notices a cancelled job this quickly


class UnitSkipped(Exception):
    """Revizto refused this unit's data for good (not enough rights): the unit ends
    `skipped` with `reason`, neither failed nor retried, and the job goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"unit skipped: {reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UnitStopped(Exception):
    """This worker must stop working on the unit: the job left `running` (cancelled,
    failed elsewhere, deleted) or another worker owns the unit now."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unit stopped: {reason}")
        self.reason = reason


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class UnitRun:
    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        unit: str,
        *,
        stall_seconds: float,
        heartbeat_interval: float,
    ) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.unit = unit
        # Short and file-name safe: temporary files carry it.
        self.owner = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.stall_seconds = stall_seconds
        self.heartbeat_interval = heartbeat_interval
        self.attempts = 0
        self._stop_reason: str | None = None
        self._next_job_check = 0.0
        self._retrying = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- claim and heartbeat -------------------------------------------------------------------

    def claim(self) -> Claim:
        """Take the unit; a unit whose owner on this host is known dead is taken at once
        (a pool process killed mid-task), others only when their heartbeat went stale."""
        claim = self._claim("")
        if (
            claim.outcome == "busy"
            and claim.owner_host == self.host
            and claim.owner_pid != self.pid
            and not pid_alive(claim.owner_pid)
        ):
            log.info(
                "unit owner is dead, taking over job=%s unit=%s pid=%d",
                self.job_id,
                self.unit,
                claim.owner_pid,
            )
            claim = self._claim(claim.owner)
        if claim.claimed:
            self.attempts = claim.attempts
        return claim

    def _claim(self, dead_owner: str) -> Claim:
        return self.jobs.claim(
            self.job_id,
            self.unit,
            owner=self.owner,
            host=self.host,
            pid=self.pid,
            stall_seconds=self.stall_seconds,
            dead_owner=dead_owner,
        )

    def __enter__(self) -> UnitRun:
        self._done.clear()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{self.unit}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._done.wait(self.heartbeat_interval):
            try:
                status = self.jobs.heartbeat(self.job_id, self.unit, self.owner)
            except Exception as exc:  # Redis away for a moment: the next beat tries again
                log.warning(
                    "heartbeat failed job=%s unit=%s error=%s",
                    self.job_id,
                    self.unit,
                    type(exc).__name__,
                )
                continue
            if status != "running":
                self._stop_reason = status
                return

    # -- while running -------------------------------------------------------------------------

    def check(self, *, force: bool = False) -> None:
        """Raise UnitStopped when this worker must stop; cheap enough to call per record."""
        if self._stop_reason is not None:
            raise UnitStopped(self._stop_reason)
        now = time.monotonic()
        if not force and now < self._next_job_check:
            return
        self._next_job_check = now + JOB_CHECK_INTERVAL_SECONDS
        state = self.jobs.state(self.job_id)
        if state != JobState.RUNNING:
            self._stop_reason = state.value if state else "gone"
            raise UnitStopped(self._stop_reason)

    def write(self, writes: Sequence[Write]) -> None:
        """Owner-guarded writes; UnitStopped if the unit is no longer ours."""
        with self._lock:
            if self._retrying:
                writes = [*writes, Write.unit("state", UnitState.RUNNING.value)]
                writes = [*writes, Write.unit("next_attempt_at", None)]
                self._retrying = False
        if not self.jobs.unit_write(self.job_id, self.unit, self.owner, writes):
            self._stop_reason = self._stop_reason or "superseded"
            raise UnitStopped(self._stop_reason)

    def sleep(self, seconds: float) -> None:
        """A retry pause that ends early, with UnitStopped, when the job stops."""
        deadline = time.monotonic() + seconds
        while True:
            self.check(force=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(SLEEP_SLICE_SECONDS, left))

    def retrying(self, event: RetryEvent, code: str = "revizto_unavailable") -> None:
        """RetryPolicy's `on_retry`: show the operator that this unit waits, why and until
        when (state `retrying`, last_error with `code`, next_attempt_at)."""
        error = event.error
        message = f"{event.what}: {error}" if error is not None else event.what
        writes = [
            Write.unit("state", UnitState.RETRYING.value),
            Write.increment("retries"),
            Write.unit("error", JobError(code, message[:500]).to_json_text()),
            Write.unit("next_attempt_at", repr(time.time() + event.wait)),
        ]
        with self._lock:
            self._retrying = False  # these writes set the state themselves
        self.write(writes)
        with self._lock:
            self._retrying = True

    # -- the end -------------------------------------------------------------------------------

    def finish(
        self,
        state: UnitState,
        error: JobError | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> int | None:
        """The units of the job still pending, or None when the unit was no longer ours."""
        self._done.set()
        return self.jobs.unit_finish(
            self.job_id, self.unit, self.owner, state, error, fields=fields
        )
