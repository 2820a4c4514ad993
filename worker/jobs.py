"""Export job records in Redis, shared by the API (which creates and reads them) and the
workers (which move them forward). Celery's own task state is never shown to callers.

Keys (prefix `rxp:job:`), all expiring 7 days after the job finishes:
  {id}          hash  id, state, request, created_at, started_at, finished_at, error,
                      pending (units not yet done), projects_total, skipped
  {id}:units    hash  unit -> state: pending | running | done | failed
  {id}:records  hash  "unit|resource" -> records written by that unit (overwritten on a
                      retry, so a redelivered task never double counts)
  {id}:files    hash  file name -> JSON {name, size, sha256, records, resource, project_uuid}
  {id}:watermarks hash project uuid -> Revizto's `synchronized` value for the next export
  {id}:deliveries hash unit -> how often its task was delivered (crash-loop guard)
  rxp:jobs      zset  id scored by created_at, for newest-first listing
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

JOB_PREFIX = "rxp:job:"
INDEX_KEY = "rxp:jobs"
FINISHED_TTL_SECONDS = 7 * 24 * 3600  # finished jobs are kept a week
UNFINISHED_TTL_SECONDS = 30 * 24 * 3600  # a safety net for jobs nobody will ever finish
ACCOUNT_UNIT = "account"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class UnitState(StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def project_unit(project_uuid: str) -> str:
    return f"project:{project_uuid}"


# KEYS: job hash. ARGV: allowed states (comma list), new state, then field/value pairs.
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
    if s == state then allowed = true end
end
if not allowed then return state end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
return 'ok'
"""

# KEYS: job hash, units hash. ARGV: unit. Marks the unit done once; returns units left.
_UNIT_DONE = """
local previous = redis.call('HGET', KEYS[2], ARGV[1])
if previous ~= 'done' then
    redis.call('HSET', KEYS[2], ARGV[1], 'done')
    return redis.call('HINCRBY', KEYS[1], 'pending', -1)
end
return tonumber(redis.call('HGET', KEYS[1], 'pending'))
"""


# KEYS: hash. ARGV: field, expected value, new value.
_SET_FIELD_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    return redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return -1
"""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str
    records: int
    resource: str
    project_uuid: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "records": self.records,
            "resource": self.resource,
        }
        if self.project_uuid is not None:
            entry["project_uuid"] = self.project_uuid
        return entry


class JobNotFound(KeyError):
    pass


class JobStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._transition = client.register_script(_TRANSITION)
        self._unit_done = client.register_script(_UNIT_DONE)
        self._set_if = client.register_script(_SET_FIELD_IF)

    # -- keys --------------------------------------------------------------------------------

    @staticmethod
    def key(job_id: str, part: str = "") -> str:
        return f"{JOB_PREFIX}{job_id}{':' + part if part else ''}"

    def _keys(self, job_id: str) -> list[str]:
        parts = ("units", "records", "files", "watermarks", "deliveries")
        return [self.key(job_id), *(self.key(job_id, p) for p in parts)]

    # -- creation and reading ----------------------------------------------------------------

    def create(self, job_id: str, request: Mapping[str, Any]) -> None:
        now = time.time()
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.key(job_id),
            mapping={
                "id": job_id,
                "state": JobState.QUEUED.value,
                "request": json.dumps(request, sort_keys=True),
                "created_at": repr(now),
                "pending": 0,
            },
        )
        pipe.expire(self.key(job_id), UNFINISHED_TTL_SECONDS)
        pipe.zadd(INDEX_KEY, {job_id: now})
        pipe.execute()

    def state(self, job_id: str) -> JobState | None:
        value = self.client.hget(self.key(job_id), "state")
        return JobState(_text(value)) if value is not None else None

    def get(self, job_id: str) -> dict[str, Any]:
        """The public view of a job (the API's `GET /v1/exports/{id}` body)."""
        pipe = self.client.pipeline(transaction=False)
        for key in self._keys(job_id):
            pipe.hgetall(key)
        job, units, records, files, *_ = (_decode(h) for h in pipe.execute())
        if not job:
            raise JobNotFound(job_id)
        return _view(job, units, records, files)

    def list_jobs(
        self, *, state: JobState | None, limit: int, page_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; `page_token` continues after the last job of the previous page."""
        max_score: str = "+inf"
        after_id: str | None = None
        after_score: float | None = None
        if page_token:
            after_score, after_id = _decode_page_token(page_token)
            max_score = repr(after_score)
        jobs: list[dict[str, Any]] = []
        batch = max(limit * 2, 50)
        offset = 0
        while len(jobs) < limit:
            ids_scores: list[tuple[str, float]] = self.client.zrevrangebyscore(  # type: ignore[assignment]
                INDEX_KEY, max_score, "-inf", start=offset, num=batch, withscores=True
            )
            if not ids_scores:
                return jobs, None
            offset += len(ids_scores)
            for raw_id, score in ids_scores:
                job_id = _text(raw_id)
                if after_id is not None:
                    if score == after_score:
                        # Same instant as the last job returned: skip up to and including
                        # it (it may have expired since: then the whole instant is done).
                        if job_id == after_id:
                            after_id = None
                        continue
                    after_id = None
                try:
                    job = self.get(job_id)
                except JobNotFound:
                    self.client.zrem(INDEX_KEY, job_id)  # expired: tidy the index
                    continue
                if state is not None and job["state"] != state.value:
                    continue
                jobs.append(job)
                if len(jobs) == limit:
                    return jobs, _encode_page_token(score, job_id)
        return jobs, None

    # -- the job's life ----------------------------------------------------------------------

    def transition(
        self, job_id: str, allowed: Iterable[JobState], new: JobState, **fields: Any
    ) -> bool:
        """Move to `new` only from one of `allowed`; True when this call made the move."""
        args = [",".join(s.value for s in allowed), new.value]
        for name, value in fields.items():
            args += [name, value if isinstance(value, str) else json.dumps(value)]
        outcome = _text(self._transition(keys=[self.key(job_id)], args=args))
        if outcome == "ok" and new.finished:
            for key in self._keys(job_id):
                self.client.expire(key, FINISHED_TTL_SECONDS)
        return outcome == "ok"

    def start(self, job_id: str) -> bool:
        return self.transition(
            job_id, [JobState.QUEUED], JobState.RUNNING, started_at=repr(time.time())
        )

    def plan(
        self, job_id: str, projects: list[dict[str, Any]], skipped: list[dict[str, Any]]
    ) -> bool:
        """Record the job's units (the account part and one per project) once; False when
        a previous delivery of the planning task already did."""
        if not self.client.hsetnx(self.key(job_id), "planned", "1"):
            return False
        units = [ACCOUNT_UNIT, *(project_unit(p["uuid"]) for p in projects)]
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key(job_id, "units"), mapping=dict.fromkeys(units, UnitState.PENDING.value))
        pipe.hset(
            self.key(job_id),
            mapping={
                "pending": len(units),
                "projects_total": len(projects),
                "projects": json.dumps(projects),
                "skipped": json.dumps(skipped),
            },
        )
        for key in self._keys(job_id)[1:]:
            pipe.expire(key, UNFINISHED_TTL_SECONDS)
        pipe.execute()
        return True

    def planned_projects(self, job_id: str) -> list[dict[str, Any]]:
        raw = self.client.hget(self.key(job_id), "projects")
        projects: list[dict[str, Any]] = json.loads(_text(raw)) if raw else []
        return projects

    def units(self, job_id: str) -> dict[str, UnitState]:
        raw = _decode(self.client.hgetall(self.key(job_id, "units")))
        return {unit: UnitState(state) for unit, state in raw.items()}

    def unit_dispatched(self, job_id: str, unit: str) -> None:
        """pending → dispatched, never over a unit that already ran (a redelivered plan)."""
        self._set_if(
            keys=[self.key(job_id, "units")],
            args=[unit, UnitState.PENDING.value, UnitState.DISPATCHED.value],
        )

    def claim_outcome(self, job_id: str) -> bool:
        """True for the one caller that gets to count the job's outcome in metrics."""
        return bool(self.client.hsetnx(self.key(job_id), "outcome_counted", "1"))

    def set_watermark(self, job_id: str, project_uuid: str, watermark: str) -> None:
        self.client.hset(self.key(job_id, "watermarks"), project_uuid, watermark)

    def watermarks(self, job_id: str) -> dict[str, str]:
        return _decode(self.client.hgetall(self.key(job_id, "watermarks")))

    def unit_delivery(self, job_id: str, unit: str) -> int:
        """Count one more delivery of a unit's task; a crash loop shows up as a high count."""
        key = self.key(job_id, "deliveries")
        count = int(self.client.hincrby(key, unit, 1))
        self.client.expire(key, UNFINISHED_TTL_SECONDS)
        return count

    def unit_running(self, job_id: str, unit: str) -> None:
        units_key = self.key(job_id, "units")
        current = self.client.hget(units_key, unit)
        if current is None or _text(current) != UnitState.DONE.value:
            self.client.hset(units_key, unit, UnitState.RUNNING.value)

    def unit_failed(self, job_id: str, unit: str) -> None:
        self.client.hset(self.key(job_id, "units"), unit, UnitState.FAILED.value)

    def unit_done(self, job_id: str, unit: str) -> int:
        """Mark a unit done (once, whatever redeliveries do); returns the units left."""
        left = self._unit_done(keys=[self.key(job_id), self.key(job_id, "units")], args=[unit])
        return int(left)

    def set_records(self, job_id: str, unit: str, resource: str, records: int) -> None:
        self.client.hset(self.key(job_id, "records"), f"{unit}|{resource}", records)

    def add_file(self, job_id: str, entry: FileEntry) -> None:
        self.client.hset(self.key(job_id, "files"), entry.name, json.dumps(entry.to_json()))

    def delete(self, job_id: str) -> None:
        """Forget a job that never started (a lost race for an Idempotency-Key)."""
        self.client.delete(*self._keys(job_id))
        self.client.zrem(INDEX_KEY, job_id)

    def request(self, job_id: str) -> dict[str, Any]:
        raw = self.client.hget(self.key(job_id), "request")
        if raw is None:
            raise JobNotFound(job_id)
        request: dict[str, Any] = json.loads(_text(raw))
        return request


# -- helpers ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _view(
    job: dict[str, str], units: dict[str, str], records: dict[str, str], files: dict[str, str]
) -> dict[str, Any]:
    state = JobState(job["state"])
    per_resource: dict[str, int] = {}
    for key, count in records.items():
        # "unit|resource" or "unit|resource|scope": progress is summed per resource.
        resource = key.split("|")[1]
        per_resource[resource] = per_resource.get(resource, 0) + int(count)
    project_units = {u: s for u, s in units.items() if u.startswith("project:")}
    file_list = sorted((json.loads(v) for v in files.values()), key=lambda f: f["name"])
    for entry in file_list:
        # Only a succeeded job's files are complete; anything else is partial output.
        entry["complete"] = state == JobState.SUCCEEDED
    error = json.loads(job["error"]) if job.get("error") else None
    return {
        "id": job["id"],
        "state": state.value,
        "request": json.loads(job["request"]),
        "created_at": _float_or_none(job.get("created_at")),
        "started_at": _float_or_none(job.get("started_at")),
        "finished_at": _float_or_none(job.get("finished_at")),
        "progress": {
            "projects_total": int(job.get("projects_total", 0)),
            "projects_done": sum(1 for s in project_units.values() if s == UnitState.DONE.value),
            "projects_failed": sum(
                1 for s in project_units.values() if s == UnitState.FAILED.value
            ),
            "records": dict(sorted(per_resource.items())),
        },
        "skipped": json.loads(job["skipped"]) if job.get("skipped") else [],
        "error": error,
        "files": file_list,
    }


def _encode_page_token(score: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, job_id]).encode()).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[float, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        score, job_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = float(score)
    except (ValueError, TypeError) as exc:
        raise ValueError("page_token is not one this API issued") from exc
    if not math.isfinite(value) or not isinstance(job_id, str):
        raise ValueError("page_token is not one this API issued")
    return value, job_id
