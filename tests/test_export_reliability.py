"""Exports that survive what happens overnight: a cancelled job, an incremental run, a
worker process killed mid-project, a revoked credential, and tokens that expire mid-job."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from jobs.timestamps import parse_rfc3339
from tests.support.exporter import (
    StartStack,
    assert_complete_and_unique,
    exported_projects,
    ndjson,
    wait_for_progress,
)
from tests.support.sandbox import SandboxFactory
from tests.support.waiting import wait_until


def duration(job: dict[str, Any]) -> float:
    return parse_rfc3339(job["finished_at"]) - parse_rfc3339(job["started_at"])


def test_a_cancelled_job_stops_between_pages_and_claims_nothing_complete(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=3, issues_per_project=300, latency_ms=30)
    stack = exporter_factory(sandbox, workers=2, worker_env={"EXPORT_COMMENT_CONCURRENCY": "2"})
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "issues", 50)
    reply = stack.call("POST", f"/v1/exports/{job['id']}:cancel")
    assert reply.status_code == 200
    assert reply.json()["state"] == "cancelled"
    # The running project tasks notice at their next page and stop
    wait_until(
        lambda: sum(w.log().count(f"unit stopped job={job['id']}") for w in stack.workers) >= 1,
        timeout=20,
        what="workers stopped",
    )
    final = stack.job(job["id"])
    assert final["state"] == "cancelled"
    assert {p["state"] for p in final["projects"]} == {"cancelled"}
    assert all(f["complete"] is False for f in final["files"])
    # The manifest says what happened, and lists no file as complete
    folder = Path(stack.export_dir, job["id"])
    manifest = json.loads(
        wait_until(
            lambda: (
                (folder / "manifest.json").exists() and stack.download(job["id"], "manifest.json")
            ),
            timeout=20,
            what="manifest of the cancelled job",
        )
    )
    assert manifest["state"] == "cancelled"
    assert manifest["files"] == []
    assert {p["state"] for p in manifest["projects"]} == {"cancelled"}
    wait_until(
        lambda: not [p for p in folder.iterdir() if p.name.endswith(".partial")],
        timeout=20,
        what="temporary files removed",
    )


def test_updated_since_exports_only_issues_changed_since_the_watermark(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=80)
    stack = exporter_factory(sandbox, workers=1)
    full = stack.wait_finished(stack.submit({"resources": ["issues"]})["id"])
    assert full["state"] == "succeeded"
    manifest = json.loads(stack.download(full["id"], "manifest.json"))
    first, second = exported_projects(sandbox)
    sandbox.touch_issues(first["uuid"], [3, 41])
    sandbox.touch_issues(second["uuid"], [80])
    since = min(manifest["watermarks"].values())  # RFC 3339, UTC

    job = stack.submit({"resources": ["issues", "comments"], "updated_since": since})
    done = stack.wait_finished(job["id"])
    assert done["state"] == "succeeded", done["error"]
    changed = {
        project["uuid"]: sorted(
            i["id"]
            for i in ndjson(
                stack.download(done["id"], f"issues-{project['uuid'].replace('-', '')}.ndjson")
            )
        )
        for project in (first, second)
    }
    assert changed == {first["uuid"]: [3, 41], second["uuid"]: [80]}
    assert done["progress"]["records"]["issues"] == 3


def test_a_worker_process_killed_mid_project_costs_a_retry_not_records(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=3, issues_per_project=300, latency_ms=20)
    stack = exporter_factory(sandbox, workers=2, worker_env={"EXPORT_COMMENT_CONCURRENCY": "2"})
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "comments", 100)
    victim = stack.workers[0]
    (child,) = victim.pool_pids()
    os.kill(child, signal.SIGKILL)  # a crash of the process running a project, mid-write
    done = stack.wait_finished(job["id"], timeout=180)
    assert done["state"] == "succeeded", done["error"]
    assert "WorkerLostError" in victim.log() or "exited prematurely" in victim.log()
    assert_complete_and_unique(stack, done)


def test_a_revoked_credential_fails_the_job_fast_with_reauth_required(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=3, issues_per_project=300, latency_ms=30, token_lifetime=4)
    stack = exporter_factory(sandbox, workers=2, worker_env={"EXPORT_COMMENT_CONCURRENCY": "2"})
    job = stack.submit({"resources": ["issues", "comments"]})
    wait_for_progress(stack, job["id"], "issues", 50)
    sandbox.set_faults(revoke_refresh_tokens=True)
    done = stack.wait_finished(job["id"], timeout=30)
    assert done["state"] == "failed"
    assert done["error"]["code"] == "reauth_required"
    assert "auth --access-code" in done["error"]["message"]
    assert duration(done) < 60
    assert all(f["complete"] is False for f in done["files"])


@pytest.mark.slow
def test_tokens_expiring_every_few_seconds_never_surface_as_errors(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=200, latency_ms=40, token_lifetime=3)
    stack = exporter_factory(sandbox, workers=2, worker_env={"EXPORT_COMMENT_CONCURRENCY": "1"})
    job = stack.submit({"resources": ["issues", "comments"]})
    done = stack.wait_finished(job["id"], timeout=180)
    assert done["state"] == "succeeded", done["error"]
    assert duration(done) > 6, "the export must outlive several tokens"
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["ok"] >= 2
    assert_complete_and_unique(stack, done)
