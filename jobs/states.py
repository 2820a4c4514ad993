"""The states of a job and of its units, and which of them are final."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    # Some projects were exported and some were not: the night was not lost.
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    # Nothing could be exported, or the credential needs a human.
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_JOB_STATES

    @property
    def retryable(self) -> bool:
        """A finished job whose failed or cancelled units `:retry` may run again."""
        return self in (JobState.PARTIALLY_SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


FINISHED_JOB_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.PARTIALLY_SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
)


class UnitState(StrEnum):
    """One unit of a job: the account part, or one project."""

    QUEUED = "queued"
    RUNNING = "running"
    # Running, but Revizto keeps failing: waiting before the next attempt.
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_UNIT_STATES

    @property
    def active(self) -> bool:
        """Owned by a worker right now (it heartbeats)."""
        return self in (UnitState.RUNNING, UnitState.RETRYING)


FINAL_UNIT_STATES = frozenset(
    {UnitState.SUCCEEDED, UnitState.FAILED, UnitState.SKIPPED, UnitState.CANCELLED}
)
