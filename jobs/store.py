"""JobStore: export jobs in Redis, shared by the API (which creates, lists, cancels,
retries and deletes them) and the workers (which claim, run and finish their units).

Keys (all under `rxp:`):
  job:{id}                hash  id, state, request, created_at, started_at, finished_at,
                                error, pending (units not final), planned, projects, skipped
  job:{id}:units          hash  "<unit>|<field>": state, attempts, requeues, retries, error,
                                owner, started_at, finished_at, next_attempt_at, checkpoint,
                                issues_total, issues_seen, watermark, dispatched_at,
                                skip_reason, skip_detail (a project Revizto refused)
  job:{id}:records        hash  "<unit>|<resource>[|scope]" -> records written (set, never
                                added, so a redelivered unit never double counts)
  job:{id}:files          hash  file name -> FileEntry JSON
  job:{id}:notifications  hash  notification id -> JSON; "<id>|payload" -> the signed body
  jobs                    zset  every job by created_at; jobs:state:<state> one per state
  jobs:finished           zset  finished jobs by finished_at (retention)
  jobs:publishing         zset  finished jobs whose manifest and webhook are not written yet
  heartbeats              zset  "<job id> <unit>" by its owner's last heartbeat
  notifications:due       zset  "<job id> <notification id>" by next delivery attempt

Every state change is one Lua script (jobs/scripts.py). Finished jobs stay until
retention removes them with their files.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from jobs import scripts
from jobs.model import ACCOUNT_UNIT, FileEntry, Job, JobError, Notification, ProjectRef
from jobs.states import JobState, UnitState

JOB_PREFIX = "rxp:job:"
ALL_JOBS = "rxp:jobs"
DUE_NOTIFICATIONS = "rxp:notifications:due"
_PARTS = ("units", "records", "files", "notifications")


class JobNotFound(KeyError):
    pass


@dataclass(frozen=True)
class Claim:
    """What a worker got when it asked for a unit."""

    outcome: str  # claimed | busy | final | job_finished | gone | unknown
    attempts: int = 0
    requeues: int = 0
    state: str = ""  # the unit's or job's state when not claimed
    owner: str = ""  # the current owner when busy
    owner_host: str = ""
    owner_pid: int = 0

    @property
    def claimed(self) -> bool:
        return self.outcome == "claimed"


@dataclass(frozen=True)
class Stopped:
    stopped: bool
    state: str  # the state the job was in


class JobStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._claim = client.register_script(scripts.CLAIM)
        self._heartbeat = client.register_script(scripts.HEARTBEAT)
        self._unit_write = client.register_script(scripts.UNIT_WRITE)
        self._unit_finish = client.register_script(scripts.UNIT_FINISH)
        self._plan = client.register_script(scripts.PLAN)
        self._finish = client.register_script(scripts.FINISH)
        self._stop = client.register_script(scripts.STOP)
        self._retry = client.register_script(scripts.RETRY)
        self._requeue = client.register_script(scripts.REQUEUE_STALLED)
        self._delete = client.register_script(scripts.DELETE)
        self._take_due = client.register_script(scripts.TAKE_DUE)

    # -- keys --------------------------------------------------------------------------------

    @staticmethod
    def key(job_id: str, part: str = "") -> str:
        return f"{JOB_PREFIX}{job_id}{':' + part if part else ''}"

    def _keys(self, job_id: str, *parts: str) -> list[str]:
        return [self.key(job_id), *(self.key(job_id, p) for p in parts)]

    # -- creating and reading ------------------------------------------------------------------

    def create(
        self,
        job_id: str,
        request: Mapping[str, Any],
        *,
        owner: str = "",
        now: float | None = None,
    ) -> None:
        """A queued job with its account unit (the planning task's), owned by the API key
        named `owner`."""
        now = time.time() if now is None else now
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.key(job_id),
            mapping={
                "id": job_id,
                "state": JobState.QUEUED.value,
                "request": json.dumps(request, sort_keys=True),
                "created_at": repr(now),
                "pending": 1,
                "owner": owner,
            },
        )
        pipe.hset(self.key(job_id, "units"), f"{ACCOUNT_UNIT}|state", UnitState.QUEUED.value)
        pipe.zadd(ALL_JOBS, {job_id: now})
        pipe.zadd(scripts.INDEX_PREFIX + JobState.QUEUED.value, {job_id: now})
        pipe.zadd(scripts.OWNER_PREFIX + owner, {job_id: now})
        pipe.zadd(f"{scripts.OWNER_PREFIX}{owner}:state:{JobState.QUEUED.value}", {job_id: now})
        pipe.execute()

    def state(self, job_id: str) -> JobState | None:
        value = self.client.hget(self.key(job_id), "state")
        return JobState(_text(value)) if value is not None else None

    def get(self, job_id: str) -> Job:
        pipe = self.client.pipeline(transaction=False)
        for key in self._keys(job_id, *_PARTS):
            pipe.hgetall(key)
        job, units, records, files, notifications = (_decode(h) for h in pipe.execute())
        if not job:
            raise JobNotFound(job_id)
        return Job.from_redis(job, units, records, files, notifications)

    def request(self, job_id: str) -> dict[str, Any]:
        raw = self.client.hget(self.key(job_id), "request")
        if raw is None:
            raise JobNotFound(job_id)
        request: dict[str, Any] = json.loads(_text(raw))
        return request

    def list_jobs(
        self,
        *,
        state: JobState | None,
        limit: int,
        page_token: str | None,
        owner: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """Newest first, from the index of `state` (or of all jobs), of every owner or of
        one; `page_token` continues after the last job of the previous page."""
        if owner is None:
            index = ALL_JOBS if state is None else scripts.INDEX_PREFIX + state.value
        else:
            index = scripts.OWNER_PREFIX + owner
            index += "" if state is None else f":state:{state.value}"
        max_score = "+inf"
        after: tuple[float, str] | None = None
        if page_token:
            after = _decode_page_token(page_token)
            max_score = repr(after[0])
        jobs: list[Job] = []
        offset = 0
        batch = limit + 10
        while len(jobs) < limit:
            ids_scores: list[tuple[str, float]] = self.client.zrevrangebyscore(  # type: ignore[assignment]
                index, max_score, "-inf", start=offset, num=batch, withscores=True
            )
            if not ids_scores:
                return jobs, None
            offset += len(ids_scores)
            for raw_id, score in ids_scores:
                job_id = _text(raw_id)
                if after is not None and score == after[0] and job_id >= after[1]:
                    continue  # same instant: already on an earlier page (ties by id, desc)
                try:
                    job = self.get(job_id)
                except JobNotFound:
                    self.client.zrem(index, job_id)  # deleted meanwhile: tidy the index
                    continue
                jobs.append(job)
                if len(jobs) == limit:
                    return jobs, _encode_page_token(score, job_id)
        return jobs, None

    # -- a unit's life (workers) ---------------------------------------------------------------

    def claim(
        self,
        job_id: str,
        unit: str,
        *,
        owner: str,
        host: str,
        pid: int,
        stall_seconds: float,
        dead_owner: str = "",
        now: float | None = None,
    ) -> Claim:
        now = time.time() if now is None else now
        reply = self._claim(
            keys=self._keys(job_id, "units"),
            args=[job_id, unit, owner, host, pid, repr(now), repr(now - stall_seconds), dead_owner],
        )
        outcome, *rest = (_text(v) for v in reply)
        if outcome == "claimed":
            return Claim(outcome, attempts=int(rest[0]), requeues=int(rest[1]))
        if outcome == "busy":
            pid_text = rest[2]
            return Claim(
                outcome,
                owner=rest[0],
                owner_host=rest[1],
                owner_pid=int(pid_text) if pid_text.isdigit() else 0,
            )
        return Claim(outcome, state=rest[0] if rest else "")

    def heartbeat(self, job_id: str, unit: str, owner: str, now: float | None = None) -> str:
        """`running` while the owner may go on; otherwise why it must stop."""
        now = time.time() if now is None else now
        alive, why = self._heartbeat(
            keys=self._keys(job_id, "units"), args=[job_id, unit, owner, repr(now)]
        )
        return "running" if int(alive) else _text(why)

    def unit_write(self, job_id: str, unit: str, owner: str, writes: Sequence[Write]) -> bool:
        """Apply `writes` only while `owner` still owns the unit of a running job."""
        args: list[str] = [unit, owner]
        for write in writes:
            args += [write.target, write.field, write.value]
        applied = self._unit_write(keys=self._keys(job_id, "units", "records", "files"), args=args)
        return bool(int(applied))

    def unit_finish(
        self,
        job_id: str,
        unit: str,
        owner: str,
        state: UnitState,
        error: JobError | None = None,
        now: float | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> int | None:
        """The unit reaches a final state, setting `fields` of it in the same step; the
        units still pending, or None if the caller no longer owned it (the job stopped, or
        another worker took over)."""
        now = time.time() if now is None else now
        args = [job_id, unit, owner, state.value, repr(now), _error_json(error)]
        for name, value in (fields or {}).items():
            args += [name, value]
        done, left = self._unit_finish(keys=self._keys(job_id, "units"), args=args)
        return int(left) if int(done) else None

    def plan(
        self, job_id: str, projects: Iterable[ProjectRef], skipped: list[dict[str, Any]]
    ) -> int:
        """Record the project units, once; how many will run, or -1 when already planned."""
        payload = json.dumps([p.to_json() for p in projects])
        return int(
            self._plan(keys=self._keys(job_id, "units"), args=[payload, json.dumps(skipped)])
        )

    def checkpoint(self, job_id: str, unit: str) -> str | None:
        """Where an interrupted unit can resume (worker/project_export.py's format)."""
        raw = self.client.hget(self.key(job_id, "units"), f"{unit}|checkpoint")
        return _text(raw) if raw is not None else None

    def mark_dispatched(self, job_id: str, unit: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.client.hsetnx(self.key(job_id, "units"), f"{unit}|dispatched_at", repr(now))

    def undispatched(self, job: Job) -> list[ProjectRef]:
        """Queued project units whose task was not sent yet (a redelivered plan sends them)."""
        raw = self.client.hgetall(self.key(job.id, "units"))
        fields = _decode(raw)
        return [
            u.project
            for u in job.projects
            if u.project is not None
            and u.state == UnitState.QUEUED
            and f"{u.name}|dispatched_at" not in fields
        ]

    # -- a job's end ---------------------------------------------------------------------------

    def finish(self, job_id: str, now: float | None = None) -> JobState | None:
        """Give the job its outcome once every unit is final; the new state, or None."""
        now = time.time() if now is None else now
        done, outcome = self._finish(keys=self._keys(job_id, "units"), args=[job_id, repr(now)])
        return JobState(_text(outcome)) if int(done) else None

    def stop(
        self,
        job_id: str,
        state: JobState,
        *,
        allowed: Iterable[JobState] = (JobState.QUEUED, JobState.RUNNING),
        error: JobError | None = None,
        failing_unit: str = "",
        unit_error: JobError | None = None,
        now: float | None = None,
    ) -> Stopped:
        """Cancel or fail a job at once: every unit not final is cancelled."""
        now = time.time() if now is None else now
        done, previous = self._stop(
            keys=self._keys(job_id, "units"),
            args=[
                job_id,
                state.value,
                repr(now),
                _error_json(error),
                ",".join(s.value for s in allowed),
                failing_unit,
                _error_json(unit_error),
            ],
        )
        return Stopped(bool(int(done)), _text(previous))

    def retry(self, job_id: str) -> tuple[list[str], str]:
        """Queue a finished job's failed and cancelled units again: (units, '') or ([], why)."""
        reply = [_text(v) for v in self._retry(keys=self._keys(job_id, "units"), args=[job_id])]
        if reply[0] == "1":
            return reply[1:], ""
        return [], reply[1]

    def claim_outcome(self, job_id: str) -> bool:
        """True for the one caller that gets to count the job's outcome in metrics."""
        return bool(self.client.hsetnx(self.key(job_id), "outcome_counted", "1"))

    def published(self, job_id: str, now: float | None = None) -> None:
        """The finished job's manifest is written and its webhook queued."""
        now = time.time() if now is None else now
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key(job_id), "published", repr(now))
        pipe.zrem(scripts.PUBLISHING, job_id)
        pipe.execute()

    def unpublished(self, finished_before: float) -> list[str]:
        ids = self.client.zrangebyscore(scripts.PUBLISHING, "-inf", repr(finished_before))
        return [_text(i) for i in ids]

    def delete(self, job_id: str) -> bool:
        """Forget a job and everything recorded about it; False if it did not exist."""
        return bool(
            int(self._delete(keys=self._keys(job_id, *_PARTS), args=[job_id, DUE_NOTIFICATIONS]))
        )

    def finished_before(self, moment: float, limit: int = 500) -> list[str]:
        ids = self.client.zrangebyscore(
            scripts.FINISHED_INDEX, "-inf", repr(moment), start=0, num=limit
        )
        return [_text(i) for i in ids]

    def running_jobs(self) -> list[str]:
        return [_text(i) for i in self.client.zrange(scripts.INDEX_PREFIX + "running", 0, -1)]

    def exists(self, job_id: str) -> bool:
        return bool(self.client.exists(self.key(job_id)))

    # -- stalled units (the reaper) ------------------------------------------------------------

    def stale_units(self, stale_before: float) -> list[tuple[str, str]]:
        members = self.client.zrangebyscore(scripts.HEARTBEATS, "-inf", repr(stale_before))
        pairs = []
        for member in members:
            job_id, _, unit = _text(member).partition(" ")
            pairs.append((job_id, unit))
        return pairs

    def requeue_stalled(self, job_id: str, unit: str, stale_before: float) -> bool:
        return bool(
            int(
                self._requeue(
                    keys=self._keys(job_id, "units"), args=[job_id, unit, repr(stale_before)]
                )
            )
        )

    # -- webhook notifications -----------------------------------------------------------------

    def add_notification(
        self, job_id: str, notification: Notification, payload: str, due: float
    ) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.key(job_id, "notifications"),
            mapping={
                notification.id: json.dumps(notification.to_json()),
                f"{notification.id}|payload": payload,
            },
        )
        pipe.zadd(DUE_NOTIFICATIONS, {f"{job_id} {notification.id}": due})
        pipe.execute()

    def notification(self, job_id: str, notification_id: str) -> tuple[Notification, str] | None:
        record, payload = self.client.hmget(
            self.key(job_id, "notifications"), [notification_id, f"{notification_id}|payload"]
        )
        if record is None or payload is None:
            return None
        return Notification.from_json(json.loads(_text(record))), _text(payload)

    def update_notification(self, job_id: str, notification: Notification) -> None:
        if not self.exists(job_id):
            return  # deleted meanwhile: nothing to record it on
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.key(job_id, "notifications"),
            notification.id,
            json.dumps(notification.to_json()),
        )
        member = f"{job_id} {notification.id}"
        if notification.state == "pending" and notification.next_attempt_at is not None:
            pipe.zadd(DUE_NOTIFICATIONS, {member: notification.next_attempt_at})
        else:
            pipe.zrem(DUE_NOTIFICATIONS, member)
        pipe.execute()

    def take_due_notifications(self, now: float, lease: float) -> list[tuple[str, str]]:
        """Deliveries due now, each taken for `lease` seconds so that no other dispatcher
        sends it too (and a lost delivery task is retried when the lease ends)."""
        taken = self._take_due(keys=[DUE_NOTIFICATIONS], args=[repr(now), repr(now + lease)])
        pairs = []
        for member in taken:
            job_id, _, notification_id = _text(member).partition(" ")
            pairs.append((job_id, notification_id))
        return pairs


@dataclass(frozen=True)
class Write:
    """One owner-guarded write of UnitWrite: `u` a unit field (an empty value deletes it),
    `i` a unit counter increment, `r` a records count, `f` a file entry."""

    target: str
    field: str
    value: str

    @classmethod
    def unit(cls, field: str, value: object) -> Write:
        return cls("u", field, "" if value is None else str(value))

    @classmethod
    def increment(cls, field: str, by: int = 1) -> Write:
        return cls("i", field, str(by))

    @classmethod
    def records(cls, unit: str, key: str, count: int) -> Write:
        return cls("r", f"{unit}|{key}", str(count))

    @classmethod
    def file(cls, entry: FileEntry) -> Write:
        return cls("f", entry.name, json.dumps(entry.to_json()))


# -- helpers ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _error_json(error: JobError | None) -> str:
    return error.to_json_text() if error is not None else ""


def _encode_page_token(score: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, job_id]).encode()).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[float, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        score, job_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = float(score)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError("page_token is not one this API issued") from exc
    if not math.isfinite(value) or not isinstance(job_id, str):
        raise ValueError("page_token is not one this API issued")
    return value, job_id
