"""Jobs an operator can leave running overnight: one failing project costs only itself and
can be retried; a transient failure resumes where it stopped; a dead worker or a Redis
restart is noticed in seconds and the work redone exactly; a finished job says so with a
signed webhook; and old jobs go away with their files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.exporter import (
    StartStack,
    assert_complete_and_unique,
    exported_projects,
    wait_for_progress,
)
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxFactory
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import WebhookReceiver, new_webhook_secret

STALL_SECONDS = 8  # tests.support.exporter's EXPORT_STALL_SECONDS


def project_entry(job: dict[str, Any], uuid: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(p for p in job["projects"] if p["project_uuid"] == uuid)
    return entry


@pytest.fixture
def aof_redis() -> Iterator[PrivateRedis]:
    """A Redis of the test's own, persisting as production does, so it can be restarted."""
    server = PrivateRedis(appendonly=True)
    yield server
    server.stop()


def test_one_failing_project_costs_only_itself_and_a_retry_finishes_the_job(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=3, issues_per_project=40)
    first, second, broken = (p["uuid"] for p in exported_projects(sandbox))
    sandbox.set_faults(fail_projects=[broken])
    stack = exporter_factory(
        sandbox, workers=2, worker_env={"EXPORT_PROJECT_RETRY_WINDOW_SECONDS": "4"}
    )
    job = stack.submit({"resources": ["members", "issues", "comments"]})

    # While Revizto keeps failing, the operator sees which project retries, why and when next
    def retrying() -> dict[str, Any] | None:
        entry = project_entry(stack.job(job["id"]), broken)
        return entry if entry["state"] == "retrying" and entry["next_attempt_at"] else None

    seen = wait_until(retrying, timeout=30, what="the broken project retrying")
    assert seen["last_error"]["code"] == "revizto_unavailable"
    assert seen["retries"] >= 1

    done = stack.wait_finished(job["id"], timeout=60)
    assert done["state"] == "partially_succeeded", done
    states = {p["project_uuid"]: p["state"] for p in done["projects"]}
    assert states == {first: "succeeded", second: "succeeded", broken: "failed"}
    assert project_entry(done, broken)["last_error"]["code"] == "retries_exhausted"
    assert done["error"]["code"] == "retries_exhausted"
    assert "1 of 3 projects" in done["error"]["message"]
    # The two exported projects are complete and downloadable; the broken one is not
    manifest = json.loads(stack.download(done["id"], "manifest.json"))
    assert manifest["state"] == "partially_succeeded"
    complete = {f["name"] for f in manifest["files"]}
    for uuid in (first, second):
        assert f"issues-{uuid.replace('-', '')}.ndjson" in complete
    assert not [name for name in complete if broken.replace("-", "") in name]
    assert {p["project_uuid"]: p["state"] for p in manifest["projects"]} == states
    assert all(f["complete"] == (f.get("project_uuid") != broken) for f in done["files"]), done[
        "files"
    ]

    # Revizto recovers: the retry runs only the failed project, in the same job
    sandbox.set_faults(fail_projects=[])
    sandbox.reset_stats()
    reply = stack.call("POST", f"/v1/exports/{done['id']}:retry")
    assert reply.status_code == 202, reply.text
    assert reply.json()["state"] == "running"
    again = stack.wait_finished(done["id"], timeout=60)
    assert again["state"] == "succeeded", again
    assert again["error"] is None
    assert again["runs"] == 2
    assert project_entry(again, first)["attempts"] == 1
    assert project_entry(again, broken)["attempts"] == 2
    assert sandbox.stats()["data_requests"] < 150, "only the broken project is read again"
    assert_complete_and_unique(stack, again)
    manifest = json.loads(stack.download(done["id"], "manifest.json"))
    assert manifest["state"] == "succeeded"
    assert {f["name"] for f in manifest["files"]} == {f["name"] for f in again["files"]}

    nothing = stack.call("POST", f"/v1/exports/{done['id']}:retry")
    assert nothing.status_code == 409
    assert nothing.json()["type"].endswith("/export-not-retryable")


def test_a_running_job_cannot_be_retried(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=300, latency_ms=20)
    stack = exporter_factory(sandbox, workers=1)
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "issues", 1)
    reply = stack.call("POST", f"/v1/exports/{job['id']}:retry")
    assert reply.status_code == 409
    assert "running" in reply.json()["detail"]
    stack.call("POST", f"/v1/exports/{job['id']}:cancel")


def test_a_transient_failure_resumes_without_reading_finished_work_again(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=600, latency_ms=5)
    (project,) = exported_projects(sandbox)
    stack = exporter_factory(sandbox, workers=1)
    body = {"resources": ["members", "workflows", "stamps", "sheets", "issues", "comments"]}
    sandbox.reset_stats()
    clean = stack.wait_finished(stack.submit(body)["id"])
    assert clean["state"] == "succeeded", clean
    clean_requests = sandbox.stats()["data_requests"]

    sandbox.reset_stats()
    job = stack.submit(body)
    wait_for_progress(stack, job["id"], "issues", 250)  # two issue pages checkpointed
    sandbox.set_faults(fail_projects=[project["uuid"]])
    wait_until(
        lambda: project_entry(stack.job(job["id"]), project["uuid"])["retries"] >= 2,
        timeout=30,
        what="the project retrying",
    )
    sandbox.set_faults(fail_projects=[])
    done = stack.wait_finished(job["id"], timeout=120)
    assert done["state"] == "succeeded", done
    stats = sandbox.stats()
    # Every request that succeeded was needed once: nothing finished was read again
    assert stats["responses_5xx"] >= 2
    assert stats["data_requests"] - stats["responses_5xx"] == clean_requests
    assert {f["name"]: f["sha256"] for f in done["files"]} == {
        f["name"]: f["sha256"] for f in clean["files"]
    }
    assert done["progress"]["records"] == clean["progress"]["records"]


@pytest.mark.slow
def test_an_error_rate_of_thirty_percent_still_exports_everything(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(error_rate=0.3)
    # Short pauses between retries keep the test quick; the retry logic is the same.
    stack = exporter_factory(sandbox, workers=2, worker_env={"EXPORT_RETRY_BASE_SECONDS": "0.1"})
    done = stack.wait_finished(stack.submit()["id"], timeout=240)
    assert done["state"] == "succeeded", done
    assert sandbox.stats()["responses_5xx"] > 100
    assert_complete_and_unique(stack, done)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["main process", "main process and pool"])
def test_a_worker_killed_with_sigkill_is_redone_by_another_within_the_stall_timeout(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, victim: str
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=300, latency_ms=10)
    stack = exporter_factory(sandbox, workers=1)
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "comments", 200)
    worker = stack.workers[0]
    if victim == "main process":
        os.kill(worker.process.pid, signal.SIGKILL)
    else:  # as when a container or a host dies
        os.killpg(worker.process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    stack.add_worker("worker-after-crash")
    done = stack.wait_finished(job["id"], timeout=3 * STALL_SECONDS + 30)
    recovered_in = time.monotonic() - killed_at
    assert done["state"] == "succeeded", done
    assert recovered_in < 3 * STALL_SECONDS + 10, recovered_in
    if victim != "main process":
        # (a pool process whose parent died may finish its project on its own)
        assert "stalled unit requeued" in stack.logs()
        assert max(p["attempts"] for p in done["projects"]) == 2
    assert_complete_and_unique(stack, done)
    folder = Path(stack.export_dir, job["id"])
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


@pytest.mark.slow
def test_a_redis_restart_mid_export_loses_no_work(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, aof_redis: PrivateRedis
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=300, latency_ms=10)
    stack = exporter_factory(sandbox, workers=2, redis_url=aof_redis.url())
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "comments", 200)
    aof_redis.restart()
    restarted_at = time.monotonic()
    done = stack.wait_finished(job["id"], timeout=3 * STALL_SECONDS + 60)
    assert done["state"] == "succeeded", done
    assert time.monotonic() - restarted_at < 3 * STALL_SECONDS + 30
    assert_complete_and_unique(stack, done)


def test_a_finished_job_is_announced_by_a_signed_webhook_retried_until_delivered(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret, statuses=[503])
    try:
        sandbox = sandbox_factory(projects=1, issues_per_project=20)
        env = {
            "EXPORT_WEBHOOK_SECRET": secret,
            "EXPORT_WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{receiver.port}",
            "EXPORT_WEBHOOK_RETRY_BASE_SECONDS": "1",
        }
        stack = exporter_factory(sandbox, workers=1, worker_env=env)
        refused = stack.call("POST", "/v1/exports", json={"notify_url": "http://127.0.0.1:6379/"})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "notify_url"

        job = stack.submit({"resources": ["issues"], "notify_url": receiver.url})
        done = stack.wait_finished(job["id"])
        assert done["state"] == "succeeded"

        def delivered() -> dict[str, Any] | None:
            notes = stack.job(job["id"])["notifications"]
            return notes[0] if notes and notes[0]["state"] == "delivered" else None

        note = wait_until(delivered, timeout=30, what="the webhook delivered")
    finally:
        receiver.stop()
    assert note["attempts"] == 2
    assert note["last_status"] == "200"
    first, second = receiver.deliveries
    assert (first.status, second.status) == (503, 200)
    assert first.verified
    assert second.verified
    # The same event both times, so the receiver can de-duplicate by its id
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == note["id"]
    assert first.body == second.body
    event = second.payload()
    assert event["type"] == "export.finished"
    assert event["job"]["id"] == job["id"]
    assert event["job"]["state"] == "succeeded"


def test_deleting_a_job_removes_it_and_its_files(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=300, latency_ms=20)
    stack = exporter_factory(sandbox, workers=1)
    finished = stack.wait_finished(stack.submit({"resources": ["licenses"]})["id"])
    folder = Path(stack.export_dir, finished["id"])
    assert folder.is_dir()
    assert stack.call("DELETE", f"/v1/exports/{finished['id']}").status_code == 204
    assert stack.call("GET", f"/v1/exports/{finished['id']}").status_code == 404
    assert not folder.exists()
    assert stack.call("DELETE", f"/v1/exports/{finished['id']}").status_code == 404
    # An Idempotency-Key that named the deleted job makes a new one, not a 404
    body, key = {"resources": ["licenses"]}, {"Idempotency-Key": "nightly"}
    first = stack.call("POST", "/v1/exports", json=body, headers=key).json()["id"]
    stack.wait_finished(first)
    assert stack.call("DELETE", f"/v1/exports/{first}").status_code == 204
    again = stack.call("POST", "/v1/exports", json=body, headers=key)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != first
    stack.wait_finished(again.json()["id"])

    running = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, running["id"], "issues", 1)
    assert stack.call("DELETE", f"/v1/exports/{running['id']}").status_code == 204
    assert stack.call("GET", f"/v1/exports/{running['id']}").status_code == 404
    listed = stack.call("GET", "/v1/exports").json()["jobs"]
    assert running["id"] not in {j["id"] for j in listed}


def test_retention_removes_old_finished_jobs_with_their_files(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=10)
    env = {"EXPORT_RETENTION_DAYS": "0.00005", "EXPORT_RETENTION_INTERVAL_SECONDS": "1"}
    stack = exporter_factory(sandbox, workers=1, worker_env=env, beat=True)
    done = stack.wait_finished(stack.submit({"resources": ["licenses"]})["id"])
    folder = Path(stack.export_dir, done["id"])
    assert folder.is_dir()
    wait_until(
        lambda: stack.call("GET", f"/v1/exports/{done['id']}").status_code == 404,
        timeout=60,
        what="the expired job removed by retention",
    )
    assert not folder.exists()
    assert "retention removed jobs=1" in stack.logs()
    # Beat's container health check: the liveness key beat keeps fresh in Redis
    health = [sys.executable, "-m", "worker.beat_health"]
    env = {**os.environ, "REDIS_URL": stack.env["REDIS_URL"]}
    assert subprocess.run(health, env=env, check=False, timeout=30).returncode == 0
    assert stack.beat is not None
    stack.beat.stop()
    stack.beat = None
    redis.Redis.from_url(stack.env["REDIS_URL"]).delete("rxp:beat:alive")  # as if its TTL ran out
    assert subprocess.run(health, env=env, check=False, timeout=30).returncode == 1
