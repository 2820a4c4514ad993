"""Job records in a real Redis: transitions, units done once, listing, expiry."""

from __future__ import annotations

import redis

from worker.jobs import (
    ACCOUNT_UNIT,
    FINISHED_TTL_SECONDS,
    FileEntry,
    JobState,
    JobStore,
    project_unit,
)


def store(redis_url: str) -> JobStore:
    return JobStore(redis.Redis.from_url(redis_url, decode_responses=True))


def test_a_unit_counts_once_however_often_it_is_redelivered(redis_url: str) -> None:
    jobs = store(redis_url)
    jobs.create("a" * 32, {"format": "ndjson"})
    assert jobs.start("a" * 32)
    assert jobs.plan("a" * 32, [{"uuid": "p1"}, {"uuid": "p2"}], [])
    assert not jobs.plan("a" * 32, [{"uuid": "p1"}], [])  # a redelivered plan changes nothing
    assert jobs.unit_done("a" * 32, project_unit("p1")) == 2
    assert jobs.unit_done("a" * 32, project_unit("p1")) == 2
    assert jobs.unit_done("a" * 32, ACCOUNT_UNIT) == 1
    assert jobs.unit_done("a" * 32, project_unit("p2")) == 0


def test_record_counts_are_set_per_unit_so_retries_do_not_double_count(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "b" * 32
    jobs.create(job_id, {})
    jobs.set_records(job_id, "project:p1", "issues", 10)
    jobs.set_records(job_id, "project:p1", "issues", 250)  # the retry wrote them again
    jobs.set_records(job_id, "project:p2", "issues", 5)
    jobs.set_records(job_id, "account", "members|license:l1", 3)
    assert jobs.get(job_id)["progress"]["records"] == {"issues": 255, "members": 3}


def test_transitions_only_from_allowed_states_and_finished_jobs_expire(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "c" * 32
    jobs.create(job_id, {})
    assert jobs.transition(job_id, [JobState.QUEUED, JobState.RUNNING], JobState.CANCELLED)
    assert not jobs.transition(job_id, [JobState.RUNNING], JobState.SUCCEEDED)
    assert jobs.state(job_id) == JobState.CANCELLED
    ttl = jobs.client.ttl(jobs.key(job_id))
    assert 0 < ttl <= FINISHED_TTL_SECONDS


def test_files_are_partial_until_the_job_succeeds(redis_url: str) -> None:
    jobs = store(redis_url)
    job_id = "d" * 32
    jobs.create(job_id, {})
    jobs.start(job_id)
    jobs.add_file(job_id, FileEntry("issues-x.ndjson", 10, "ab", 2, "issues", "x"))
    assert [f["complete"] for f in jobs.get(job_id)["files"]] == [False]
    jobs.transition(job_id, [JobState.RUNNING], JobState.SUCCEEDED)
    assert [f["complete"] for f in jobs.get(job_id)["files"]] == [True]


def test_expired_jobs_drop_out_of_the_listing(redis_url: str) -> None:
    jobs = store(redis_url)
    for job_id in ("e" * 32, "f" * 32):
        jobs.create(job_id, {})
    jobs.client.delete(jobs.key("e" * 32))  # as if its 7 days were up
    listed, token = jobs.list_jobs(state=None, limit=10, page_token=None)
    assert [j["id"] for j in listed] == ["f" * 32]
    assert token is None


def test_paging_survives_the_expiry_of_the_last_job_returned(redis_url: str) -> None:
    jobs = store(redis_url)
    ids = [f"{n:032x}" for n in range(1, 6)]
    for job_id in ids:
        jobs.create(job_id, {})
    first, token = jobs.list_jobs(state=None, limit=2, page_token=None)
    assert [j["id"] for j in first] == ids[::-1][:2]
    jobs.client.delete(jobs.key(first[-1]["id"]))  # the page's last job expires meanwhile
    rest, _ = jobs.list_jobs(state=None, limit=10, page_token=token)
    assert [j["id"] for j in rest] == ids[::-1][2:]
