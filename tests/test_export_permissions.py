"""Limited permissions skip, they do not fail the job: a licence where the credential's user
is not licence administrator (`insufficient_role`) and a project Revizto refuses
(`access_denied`) are listed as skipped, and everything else is exported. Against the real
sandbox, Redis and Celery workers; the planner and the job record also in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from api.projects import catalogue
from jobs.model import ProjectRef, project_unit
from jobs.request import ExportRequest
from jobs.states import JobState, UnitState
from jobs.store import JobStore, Write
from jobs.view import job_view
from jobs.watermarks import WatermarkStore
from revizto.client import ReviztoClient
from revizto.retry import RetryPolicy
from revizto.tokens import StaticTokenProvider
from tests.support.exporter import ExporterStack, StartStack, ndjson
from tests.support.sandbox import TIMEOUT_S, SandboxFactory, SandboxProcess
from tests.support.waiting import wait_until
from worker.plan import build_plan
from worker.publish import exported_spans

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.02, jitter=0.01)


def set_permissions(sandbox: SandboxProcess, **body: Any) -> None:
    reply = requests.post(sandbox.url("/_sandbox/permissions"), json=body, timeout=TIMEOUT_S)
    assert reply.status_code == 200, reply.text


def key(uuid: str) -> str:
    return uuid.replace("-", "").lower()


def skips(view: dict[str, Any]) -> dict[str, str]:
    """`skipped` as uuid → reason."""
    return {entry["uuid"]: entry["reason"] for entry in view["skipped"]}


def manifest_of(stack: ExporterStack, job_id: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(stack.download(job_id, "manifest.json"))
    return manifest


def unit_of(job: dict[str, Any], project_uuid: str) -> dict[str, Any]:
    unit: dict[str, Any] = next(p for p in job["projects"] if p["project_uuid"] == project_uuid)
    return unit


def test_a_licence_below_admin_and_a_refused_project_are_skipped_and_the_rest_exported(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(
        projects=3, issues_per_project=40, comments_per_issue=2, extra_licences=1, seed=7
    )
    main, frozen, no_api, partner = sandbox.catalog()["licenses"]
    refused, *exported = main["projects"]
    set_permissions(sandbox, license_uuid=partner["uuid"], role=3)
    set_permissions(sandbox, project_uuid=refused["uuid"], access=False)
    # The default 15-minute retry window: a refusal that were retried would time the test out.
    stack = exporter_factory(sandbox, workers=2)

    done = stack.wait_finished(stack.submit()["id"])

    assert (done["state"], done["error"]) == ("succeeded", None)
    assert skips(done) == {
        partner["uuid"]: "insufficient_role",
        refused["uuid"]: "access_denied",
        frozen["uuid"]: "frozen",
        no_api["uuid"]: "no_api_access",
    }
    entry = next(s for s in done["skipped"] if s["uuid"] == refused["uuid"])
    assert (entry["kind"], entry["name"], entry["license_uuid"]) == (
        "project",
        refused["title"],
        main["uuid"],
    )
    assert "result=-20" in entry["detail"]
    # The licence is skipped whole: none of its projects is planned, nor its members read.
    assert {p["project_uuid"] for p in done["projects"]} == {p["uuid"] for p in main["projects"]}
    skipped_unit = unit_of(done, refused["uuid"])
    assert (skipped_unit["state"], skipped_unit["skip_reason"]) == ("skipped", "access_denied")
    assert (skipped_unit["retries"], skipped_unit["last_error"]) == (0, None)
    progress = done["progress"]
    assert (progress["projects_total"], progress["projects_done"]) == (2, 2)
    assert progress["projects_skipped"] == 1

    files = {f["name"]: f for f in done["files"]}
    assert f"license_members-{key(main['uuid'])}.ndjson" in files
    assert not any(key(partner["uuid"]) in name for name in files)
    assert not [f for f in done["files"] if f["project_uuid"] == refused["uuid"]]
    for project in exported:
        issues = ndjson(stack.download(done["id"], f"issues-{key(project['uuid'])}.ndjson"))
        assert sorted(i["id"] for i in issues) == list(range(1, project["issues"] + 1))
        assert files[f"comments-{key(project['uuid'])}.ndjson"]["records"] == project["comments"]

    manifest = manifest_of(stack, done["id"])
    assert manifest["state"] == "succeeded"
    assert manifest["skipped"] == done["skipped"]
    (listed,) = [p for p in manifest["projects"] if p["project_uuid"] == refused["uuid"]]
    assert (listed["state"], listed["skip_reason"], listed["error"]) == (
        "skipped",
        "access_denied",
        None,
    )
    assert {f["name"] for f in manifest["files"]} == set(files)
    assert set(manifest["watermarks"]) == {p["uuid"] for p in exported}


@pytest.mark.parametrize("withheld", ["licence", "every project"])
def test_a_job_whose_every_licence_or_project_is_skipped_succeeds_with_an_empty_export(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, withheld: str
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=5, comments_per_issue=1)
    main, frozen, no_api = sandbox.catalog()["licenses"]
    if withheld == "licence":
        set_permissions(sandbox, license_uuid=main["uuid"], role=2)
        expected = {main["uuid"]: "insufficient_role"}
    else:
        for project in main["projects"]:
            set_permissions(sandbox, project_uuid=project["uuid"], access=False)
        expected = {p["uuid"]: "access_denied" for p in main["projects"]}
    stack = exporter_factory(sandbox, workers=1)

    done = stack.wait_finished(stack.submit()["id"])

    assert (done["state"], done["error"]) == ("succeeded", None)
    assert skips(done) == {**expected, frozen["uuid"]: "frozen", no_api["uuid"]: "no_api_access"}
    assert all(p["state"] == "skipped" for p in done["projects"])
    assert done["progress"]["projects_done"] == 0
    manifest = manifest_of(stack, done["id"])
    assert (manifest["state"], manifest["skipped"]) == ("succeeded", done["skipped"])
    # What is left is the account's own listing: no project's data, complete or not.
    assert done["files"]
    assert all(f["project_uuid"] is None for f in done["files"])
    assert manifest["records"]["licenses"] == 3
    assert manifest["watermarks"] == {}


def test_v1_projects_says_why_a_licence_cannot_be_exported(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=1, extra_licences=1)
    main, frozen, no_api, partner = sandbox.catalog()["licenses"]
    set_permissions(sandbox, license_uuid=partner["uuid"], role=3)
    stack = exporter_factory(sandbox, workers=0)

    reply = stack.call("GET", "/v1/projects")

    assert reply.status_code == 200, reply.text
    licences = {entry["uuid"]: entry for entry in reply.json()["licenses"]}
    reasons = {uuid: (entry["exportable"], entry["reason"]) for uuid, entry in licences.items()}
    assert reasons == {
        main["uuid"]: (True, None),
        frozen["uuid"]: (False, "frozen"),
        no_api["uuid"]: (False, "no_api_access"),
        partner["uuid"]: (False, "insufficient_role"),
    }
    assert licences[partner["uuid"]]["projects"] == []
    assert len(licences[main["uuid"]]["projects"]) == 2


@pytest.mark.slow
def test_a_project_refused_mid_export_is_skipped_without_its_files_or_its_watermark(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, redis_url: str
) -> None:
    sandbox = sandbox_factory(
        projects=1, issues_per_project=5, comments_per_issue=1, extra_licences=1
    )
    main, _, _, partner = sandbox.catalog()["licenses"]
    (target,) = main["projects"]
    (other,) = partner["projects"]
    stack = exporter_factory(sandbox, workers=2)
    # Each data request waits this long before the sandbox checks rights: the refusal
    # lands on the request that follows the issues file, the tombstones (filter_deleted).
    sandbox.set_faults(data_latency_ms=1500)
    job_id = stack.submit({"mode": "incremental"})["id"]
    issues_file = f"issues-{key(target['uuid'])}.ndjson"

    def issues_committed() -> bool:
        job = stack.job(job_id)
        assert job["state"] == "running", job
        return any(f["name"] == issues_file for f in job["files"])

    wait_until(issues_committed, timeout=120, interval=0.02, what="the issues file committed")
    set_permissions(sandbox, project_uuid=target["uuid"], access=False)
    done = stack.wait_finished(job_id)

    assert (done["state"], done["error"]) == ("succeeded", None)
    unit = unit_of(done, target["uuid"])
    assert (unit["state"], unit["skip_reason"], unit["retries"]) == ("skipped", "access_denied", 0)
    assert unit_of(done, other["uuid"])["state"] == "succeeded"
    assert skips(done)[target["uuid"]] == "access_denied"
    # It had read its issues, and taken Revizto's watermark, before the refusal...
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    units = client.hgetall(f"rxp:job:{job_id}:units")
    assert units.get(f"{project_unit(target['uuid'])}|watermark"), units
    # ...yet none of its files is presented as complete, nor listed in the manifest,
    written = [f for f in done["files"] if f["project_uuid"] == target["uuid"]]
    assert issues_file in {f["name"] for f in written}
    assert not [f for f in written if f["complete"]]
    manifest = manifest_of(stack, job_id)
    assert not [f for f in manifest["files"] if f["project_uuid"] == target["uuid"]]
    # ...and its watermark did not move: the next incremental run reads it in full.
    kept = WatermarkStore(client).all("files:main")
    assert set(kept) == set(manifest["watermarks"]) == {other["uuid"]}
    leftovers = [p.name for p in Path(stack.export_dir, job_id).iterdir() if p.name[0] == "."]
    assert leftovers == []

    sandbox.set_faults(data_latency_ms=0)
    set_permissions(sandbox, project_uuid=target["uuid"], access=True)
    again = stack.wait_finished(stack.submit({"mode": "incremental"})["id"])
    assert again["state"] == "succeeded", again["error"]
    assert unit_of(again, target["uuid"])["since"] is None
    assert unit_of(again, other["uuid"])["since"] is not None


# -- in-process: the planner, the catalogue and the job record ------------------------------


class RoleBlindClient(ReviztoClient):
    """A real client whose licence list carries no `role`, as a Revizto version might send
    it: only the licence's own endpoints can then tell that the role is too low."""

    def licenses(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in lic.items() if k != "role"} for lic in super().licenses()]


def test_a_licence_whose_endpoints_refuse_is_skipped_while_planning(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=1, extra_licences=1)
    main, _, _, partner = sandbox.catalog()["licenses"]
    set_permissions(sandbox, license_uuid=partner["uuid"], role=3)
    tokens = StaticTokenProvider(sandbox.access_token())
    client = RoleBlindClient(sandbox.base_url, tokens, retry_policy=FAST_RETRY)

    plan = build_plan(client, ExportRequest())

    (entry,) = [s for s in plan.skipped if s["uuid"] == partner["uuid"]]
    assert (entry["kind"], entry["reason"]) == ("license", "insufficient_role")
    assert "result=-20" in entry["detail"]
    assert [lic["uuid"] for lic in plan.licenses] == [main["uuid"]]
    assert set(plan.license_teams) == {main["uuid"]}
    assert {p.license_uuid for p in plan.projects} == {main["uuid"]}
    # The catalogue gives the same reason.
    listed = {lic.uuid: lic for lic in catalogue(client).licenses}
    assert (listed[partner["uuid"]].exportable, listed[partner["uuid"]].reason) == (
        False,
        "insufficient_role",
    )
    # A request for that licence alone is an empty plan that names the skip, not an error
    alone = build_plan(client, ExportRequest(license_uuid=partner["uuid"]))
    assert (alone.licenses, alone.projects) == ([], [])
    assert [(s["uuid"], s["reason"]) for s in alone.skipped] == [
        (partner["uuid"], "insufficient_role")
    ]


def test_a_refused_unit_is_skipped_in_the_record_and_never_moves_its_watermark(
    redis_url: str,
) -> None:
    jobs = JobStore(redis.Redis.from_url(redis_url, decode_responses=True))
    job_id = "e" * 32
    refs = [ProjectRef(uuid=u, id=1, title=f"P {u}", license_uuid="lic") for u in ("p1", "p2")]
    jobs.create(job_id, {"format": "ndjson"})
    claimed = jobs.claim(job_id, "account", owner="planner", host="h", pid=1, stall_seconds=60)
    assert claimed.claimed
    licence_skip = {"kind": "license", "uuid": "l2", "name": "L2", "reason": "insufficient_role"}
    assert jobs.plan(job_id, refs, [licence_skip]) == 2
    assert jobs.unit_finish(job_id, "account", "planner", UnitState.SUCCEEDED) == 2
    for ref in refs:
        unit = project_unit(ref.uuid)
        assert jobs.claim(job_id, unit, owner="w", host="h", pid=1, stall_seconds=60).claimed
        # Both read their issues (and Revizto's watermark) before the end.
        assert jobs.unit_write(job_id, unit, "w", [Write.unit("watermark", "2026-01-02 03:04:05")])
    assert jobs.unit_finish(job_id, project_unit("p1"), "w", UnitState.SUCCEEDED) == 1
    refusal = {"skip_reason": "access_denied", "skip_detail": "Not enough rights (result=-20)"}
    left = jobs.unit_finish(job_id, project_unit("p2"), "w", UnitState.SKIPPED, fields=refusal)
    assert left == 0
    assert jobs.finish(job_id) == JobState.SUCCEEDED

    job = jobs.get(job_id)
    assert job.skipped == [
        licence_skip,
        {
            "kind": "project",
            "uuid": "p2",
            "name": "P p2",
            "license_uuid": "lic",
            "reason": "access_denied",
            "detail": "Not enough rights (result=-20)",
        },
    ]
    view = job_view(job)
    assert [(p["state"], p["skip_reason"]) for p in view["projects"]] == [
        ("succeeded", None),
        ("skipped", "access_denied"),
    ]
    assert view["skipped"][0]["detail"] is None
    # Only what succeeded moves a watermark: the skipped unit's stays where it was.
    assert [span.project_uuid for span in exported_spans(job)] == ["p1"]
