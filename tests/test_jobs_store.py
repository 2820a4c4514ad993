"""The job record in a real Redis: every transition is one script, so claims, plans,
finishes, cancels and retries hold whatever else runs at the same time."""

from __future__ import annotations

import redis

from jobs.model import ACCOUNT_UNIT, FileEntry, JobError, ProjectRef, project_unit
from jobs.states import JobState, UnitState
from jobs.store import JobStore, Write
from jobs.view import job_summary, job_view

STALL = 60.0


def store(redis_url: str) -> JobStore:
    return JobStore(redis.Redis.from_url(redis_url, decode_responses=True))


def ref(uuid: str, skip_reason: str | None = None) -> ProjectRef:
    return ProjectRef(
        uuid=uuid, id=1, title=f"P {uuid}", license_uuid="lic", skip_reason=skip_reason
    )


def claim(jobs: JobStore, job_id: str, unit: str, owner: str, **extra: object) -> str:
    options = {"host": "h", "pid": 1, "stall_seconds": STALL, **extra}
    return jobs.claim(job_id, unit, owner=owner, **options).outcome  # type: ignore[arg-type]


def planned_job(jobs: JobStore, job_id: str, *uuids: str) -> None:
    """A job whose planning task claimed the account unit and planned `uuids`."""
    jobs.create(job_id, {"format": "ndjson"})
    assert claim(jobs, job_id, ACCOUNT_UNIT, "planner") == "claimed"
    assert jobs.plan(job_id, [ref(u) for u in uuids], []) == len(uuids)


def succeed(jobs: JobStore, job_id: str, unit: str, owner: str = "w") -> int | None:
    if unit != ACCOUNT_UNIT:
        assert claim(jobs, job_id, unit, owner) == "claimed"
        return jobs.unit_finish(job_id, unit, owner, UnitState.SUCCEEDED)
    return jobs.unit_finish(job_id, unit, "planner", UnitState.SUCCEEDED)


def fail(jobs: JobStore, job_id: str, unit: str, code: str = "retries_exhausted") -> int | None:
    assert claim(jobs, job_id, unit, "w") == "claimed"
    error = JobError(code, f"{unit} kept failing")
    return jobs.unit_finish(job_id, unit, "w", UnitState.FAILED, error)


def test_a_redelivered_plan_changes_nothing_and_the_first_claim_starts_the_job(
    redis_url: str,
) -> None:
    jobs = store(redis_url)
    job_id = "a" * 32
    jobs.create(job_id, {})
    assert jobs.state(job_id) == JobState.QUEUED
    assert claim(jobs, job_id, ACCOUNT_UNIT, "planner") == "claimed"
    assert jobs.state(job_id) == JobState.RUNNING
    assert jobs.plan(job_id, [ref("p1"), ref("p2"), ref("p3", "archived")], []) == 2
    assert jobs.plan(job_id, [ref("p9")], []) == -1
    job = jobs.get(job_id)
    assert [(u.project.uuid, u.state) for u in job.projects if u.project] == [
        ("p1", UnitState.QUEUED),
        ("p2", UnitState.QUEUED),
        ("p3", UnitState.SKIPPED),
    ]
    # The account unit and two projects are pending: the job cannot finish without them
    assert succeed(jobs, job_id, ACCOUNT_UNIT) == 2
    assert jobs.finish(job_id) is None


def test_a_unit_is_claimed_once_until_its_owner_stops_heartbeating(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "b" * 32
    planned_job(jobs, job_id, "p1")
    unit = project_unit("p1")
    assert claim(jobs, job_id, unit, "first", now=1000.0) == "claimed"
    assert claim(jobs, job_id, unit, "second", now=1000.0 + STALL / 2) == "busy"
    assert jobs.heartbeat(job_id, unit, "first", now=1000.0 + STALL / 2) == "running"
    # Its heartbeat went stale: a second worker takes over, and the first is told so
    assert claim(jobs, job_id, unit, "second", now=1000.0 + STALL * 2) == "claimed"
    assert jobs.heartbeat(job_id, unit, "first") == "superseded"
    assert not jobs.unit_write(job_id, unit, "first", [Write.unit("issues_total", 5)])
    assert jobs.unit_finish(job_id, unit, "first", UnitState.SUCCEEDED) is None
    job_unit = jobs.get(job_id).unit(unit)
    assert job_unit is not None
    assert (job_unit.attempts, job_unit.requeues, job_unit.issues_total) == (2, 1, None)


def test_a_known_dead_owner_is_taken_over_at_once(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "c" * 32
    planned_job(jobs, job_id, "p1")
    unit = project_unit("p1")
    assert claim(jobs, job_id, unit, "dead") == "claimed"
    assert claim(jobs, job_id, unit, "next", dead_owner="someone-else") == "busy"
    assert claim(jobs, job_id, unit, "next", dead_owner="dead") == "claimed"


def test_finished_units_are_never_claimed_again(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "d" * 32
    planned_job(jobs, job_id, "p1", "p2")
    succeed(jobs, job_id, project_unit("p1"))
    reply = jobs.claim(
        job_id, project_unit("p1"), owner="again", host="h", pid=1, stall_seconds=STALL
    )
    assert (reply.outcome, reply.state) == ("final", "succeeded")


def test_all_projects_succeeding_is_success(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "e" * 32
    planned_job(jobs, job_id, "p1", "p2")
    assert succeed(jobs, job_id, project_unit("p1")) == 2
    assert succeed(jobs, job_id, ACCOUNT_UNIT) == 1
    assert succeed(jobs, job_id, project_unit("p2")) == 0
    assert jobs.finish(job_id) == JobState.SUCCEEDED
    assert jobs.finish(job_id) is None  # once
    job = jobs.get(job_id)
    assert job.error is None
    assert job.percent() == 100.0


def test_some_projects_failing_is_partial_success_naming_the_first_error(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "f" * 32
    planned_job(jobs, job_id, "p1", "p2", "p3")
    succeed(jobs, job_id, ACCOUNT_UNIT)
    succeed(jobs, job_id, project_unit("p1"))
    succeed(jobs, job_id, project_unit("p2"))
    assert fail(jobs, job_id, project_unit("p3")) == 0
    assert jobs.finish(job_id) == JobState.PARTIALLY_SUCCEEDED
    job = jobs.get(job_id)
    assert job.error is not None
    assert job.error.code == "retries_exhausted"
    assert "1 of 3 projects" in job.error.message
    view = job_view(job)
    assert [p["state"] for p in view["projects"]] == ["succeeded", "succeeded", "failed"]
    assert view["projects"][2]["last_error"]["code"] == "retries_exhausted"


def test_no_project_exported_is_failure(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "1" * 32
    planned_job(jobs, job_id, "p1", "p2")
    succeed(jobs, job_id, ACCOUNT_UNIT)
    fail(jobs, job_id, project_unit("p1"), "no_api_access")
    fail(jobs, job_id, project_unit("p2"))
    assert jobs.finish(job_id) == JobState.FAILED
    error = jobs.get(job_id).error
    assert error is not None
    assert error.code == "no_api_access"


def test_a_job_whose_projects_are_all_skipped_succeeds(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "2" * 32
    jobs.create(job_id, {})
    claim(jobs, job_id, ACCOUNT_UNIT, "planner")
    assert jobs.plan(job_id, [ref("p1", "frozen")], []) == 0
    assert succeed(jobs, job_id, ACCOUNT_UNIT) == 0
    assert jobs.finish(job_id) == JobState.SUCCEEDED


def test_cancel_stops_every_unit_and_retry_runs_only_what_did_not_succeed(
    redis_url: str,
) -> None:
    jobs = store(redis_url)
    job_id = "3" * 32
    planned_job(jobs, job_id, "p1", "p2", "p3")
    succeed(jobs, job_id, ACCOUNT_UNIT)
    succeed(jobs, job_id, project_unit("p1"))
    assert claim(jobs, job_id, project_unit("p2"), "w2") == "claimed"
    assert jobs.retry(job_id) == ([], "running")
    assert jobs.stop(job_id, JobState.CANCELLED).stopped
    assert not jobs.stop(job_id, JobState.CANCELLED).stopped
    assert jobs.heartbeat(job_id, project_unit("p2"), "w2") == "cancelled"
    job = jobs.get(job_id)
    assert [u.state for u in job.projects] == [
        UnitState.SUCCEEDED,
        UnitState.CANCELLED,
        UnitState.CANCELLED,
    ]
    assert jobs.unpublished(float("inf")) == [job_id]

    units, why = jobs.retry(job_id)
    assert (sorted(units), why) == ([project_unit("p2"), project_unit("p3")], "")
    assert jobs.state(job_id) == JobState.RUNNING
    assert jobs.unpublished(float("inf")) == []
    assert succeed(jobs, job_id, project_unit("p2"), "again") == 1
    assert succeed(jobs, job_id, project_unit("p3"), "again") == 0
    assert jobs.finish(job_id) == JobState.SUCCEEDED
    assert jobs.get(job_id).runs == 2
    assert jobs.retry(job_id) == ([], "nothing_to_retry")


def test_a_failing_unit_can_fail_the_whole_job_at_once(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "4" * 32
    planned_job(jobs, job_id, "p1", "p2")
    claim(jobs, job_id, project_unit("p1"), "w1")
    error = JobError("reauth_required", "re-authenticate")
    assert jobs.stop(
        job_id, JobState.FAILED, error=error, failing_unit=project_unit("p1"), unit_error=error
    ).stopped
    job = jobs.get(job_id)
    assert job.state == JobState.FAILED
    assert job.error == error
    assert [u.state for u in job.units()] == [
        UnitState.CANCELLED,
        UnitState.FAILED,
        UnitState.CANCELLED,
    ]


def test_files_are_complete_only_once_their_unit_succeeded(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "5" * 32
    planned_job(jobs, job_id, "p1")
    unit = project_unit("p1")
    claim(jobs, job_id, unit, "w")
    entry = FileEntry("issues-p1.ndjson", 10, "ab", 2, "issues", unit, "p1")
    assert jobs.unit_write(job_id, unit, "w", [Write.file(entry), Write.records(unit, "issues", 2)])
    job = jobs.get(job_id)
    assert [job.file_complete(f) for f in job.files] == [False]
    assert job.records() == {"issues": 2}
    jobs.unit_finish(job_id, unit, "w", UnitState.SUCCEEDED)
    job = jobs.get(job_id)
    assert [job.file_complete(f) for f in job.files] == [True]


def test_record_counts_are_set_per_unit_so_redelivery_never_double_counts(
    redis_url: str,
) -> None:
    jobs = store(redis_url)
    job_id = "6" * 32
    planned_job(jobs, job_id, "p1", "p2")
    for unit, count in (
        (project_unit("p1"), 10),
        (project_unit("p1"), 250),
        (project_unit("p2"), 5),
    ):
        owner = f"w-{unit}"
        claim(jobs, job_id, unit, owner, dead_owner=f"w-{unit}")
        assert jobs.unit_write(job_id, unit, owner, [Write.records(unit, "issues", count)])
    assert jobs.get(job_id).records() == {"issues": 255}


def test_percent_and_eta_follow_revizto_counts(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "7" * 32
    planned_job(jobs, job_id, "p1", "p2")
    assert jobs.get(job_id).percent() is None  # nothing says how big the job is yet
    unit = project_unit("p1")
    claim(jobs, job_id, unit, "w")
    jobs.unit_write(
        job_id, unit, "w", [Write.unit("issues_total", 100), Write.unit("issues_seen", 50)]
    )
    job = jobs.get(job_id)
    # p2's size is unknown: it counts as big as p1, so half of one of two projects is 25 %
    assert job.percent() == 25.0
    assert job.started_at is not None
    assert job.eta_seconds(job.started_at + 30) == 90
    summary = job_summary(job, job.started_at + 30)
    assert (summary["percent"], summary["eta_seconds"]) == (25.0, 90)
    assert summary["created_at"].endswith("Z")
    assert "T" in summary["created_at"]


def test_listing_by_state_uses_the_state_index_and_pages_newest_first(redis_url: str) -> None:
    jobs = store(redis_url)
    ids = [f"{n:032x}" for n in range(1, 8)]
    for index, job_id in enumerate(ids):
        jobs.create(job_id, {}, now=1000.0 + index // 2)  # pairs share an instant
    for job_id in ids[::2]:
        claim(jobs, job_id, ACCOUNT_UNIT, "planner")
    running, token = jobs.list_jobs(state=JobState.RUNNING, limit=2, page_token=None)
    assert [j.id for j in running] == [ids[6], ids[4]]
    rest, last = jobs.list_jobs(state=JobState.RUNNING, limit=5, page_token=token)
    assert [j.id for j in rest] == [ids[2], ids[0]]
    assert last is None
    seen: list[str] = []
    page_token = None
    while True:
        page, page_token = jobs.list_jobs(state=None, limit=3, page_token=page_token)
        seen += [j.id for j in page]
        if page_token is None:
            break
    assert seen == sorted(ids, key=lambda i: (1000.0 + ids.index(i) // 2, i), reverse=True)
    queued, _ = jobs.list_jobs(state=JobState.QUEUED, limit=10, page_token=None)
    assert {j.id for j in queued} == set(ids[1::2])


def test_delete_forgets_the_job_everywhere(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "8" * 32
    planned_job(jobs, job_id, "p1")
    claim(jobs, job_id, project_unit("p1"), "w")
    assert jobs.delete(job_id)
    assert not jobs.delete(job_id)
    leftovers = list(jobs.client.scan_iter("rxp:*"))
    members = [
        m
        for k in leftovers
        if jobs.client.type(k) == "zset"
        for m in jobs.client.zrange(k, 0, -1)
        if job_id in m
    ]
    assert not [k for k in leftovers if job_id in k]
    assert members == []


def test_the_reaper_requeues_only_units_whose_heartbeat_is_stale(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "9" * 32
    planned_job(jobs, job_id, "p1", "p2")
    claim(jobs, job_id, project_unit("p1"), "w1", now=1000.0)
    claim(jobs, job_id, project_unit("p2"), "w2", now=1100.0)
    # (the account unit was claimed just now, by the clock)
    assert jobs.stale_units(1050.0) == [(job_id, project_unit("p1"))]
    assert jobs.requeue_stalled(job_id, project_unit("p1"), 1050.0)
    assert not jobs.requeue_stalled(job_id, project_unit("p2"), 1050.0)
    unit = jobs.get(job_id).unit(project_unit("p1"))
    assert unit is not None
    assert (unit.state, unit.requeues) == (UnitState.QUEUED, 1)
    assert jobs.heartbeat(job_id, project_unit("p1"), "w1") == "superseded"


def test_a_due_delivery_is_taken_by_one_dispatcher_until_its_lease_ends(redis_url: str) -> None:
    from jobs.model import Notification

    jobs = store(redis_url)
    job_id = "0" * 32
    jobs.create(job_id, {})
    notification = Notification("msg_1", "http://x/", "pending", 0, created_at=100.0)
    jobs.add_notification(job_id, notification, "{}", due=100.0)
    assert jobs.take_due_notifications(100.0, lease=300.0) == [(job_id, "msg_1")]
    assert jobs.take_due_notifications(101.0, lease=300.0) == []
    assert jobs.take_due_notifications(400.0, lease=300.0) == [(job_id, "msg_1")]
