"""`"mode": "incremental"` end to end: the service keeps each project's watermark, deleted
issues arrive as tombstones, and an issue's new comments come with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jobs.timestamps import parse_rfc3339
from tests.support.exporter import ExporterStack, StartStack, exported_projects, ndjson
from tests.support.sandbox import SandboxFactory
from tests.support.waiting import wait_until

RESOURCES = ["issues", "comments"]


def project_file(stack: ExporterStack, job: dict[str, Any], resource: str, uuid: str) -> list[Any]:
    return ndjson(stack.download(job["id"], f"{resource}-{uuid.replace('-', '')}.ndjson"))


def run(stack: ExporterStack, body: dict[str, Any]) -> dict[str, Any]:
    done = stack.wait_finished(stack.submit(body)["id"])
    assert done["state"] == "succeeded", done["error"]
    return done


def test_incremental_exports_changes_tombstones_and_new_comments_since_the_last_export(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=60)
    stack = exporter_factory(sandbox, workers=1)
    first, second = exported_projects(sandbox)

    # Never exported before: incremental means full, and tombstones are every deletion
    initial = run(stack, {"mode": "incremental", "resources": RESOURCES})
    assert [p["since"] for p in initial["projects"]] == [None, None]
    assert len(project_file(stack, initial, "issues", first["uuid"])) == 60
    initial_manifest = json.loads(stack.download(initial["id"], "manifest.json"))
    old_tombstones = project_file(stack, initial, "deleted_issues", first["uuid"])
    assert all(issue["deletedAt"]["value"] for issue in old_tombstones)

    deleted, touched, commented = [1, 2, 3, 4, 5], list(range(10, 20)), [30, 31, 32]
    sandbox.delete_issues(first["uuid"], deleted)
    sandbox.touch_issues(first["uuid"], touched)
    sandbox.add_comments(first["uuid"], commented)

    later = run(stack, {"mode": "incremental", "resources": RESOURCES})
    # Each project read since its own last watermark, kept by the service
    since = {p["project_uuid"]: p["since"] for p in later["projects"]}
    assert since == initial_manifest["watermarks"]
    issues = project_file(stack, later, "issues", first["uuid"])
    assert sorted(i["id"] for i in issues) == sorted(touched + commented)
    assert project_file(stack, later, "issues", second["uuid"]) == []
    tombstones = project_file(stack, later, "deleted_issues", first["uuid"])
    assert {i["id"] for i in tombstones} == set(deleted)
    assert all(i["deletedAt"]["value"] >= since[first["uuid"]][:10] for i in tombstones)
    # Comments: those of changed issues only, at least the new ones, each once
    comments = project_file(stack, later, "comments", first["uuid"])
    assert {c["issue"]["id"] for c in comments} <= set(touched + commented)
    added = [c for c in comments if c["comment"].get("text") == "Added by the sandbox"]
    assert sorted(c["issue"]["id"] for c in added) == commented
    keys = [(c["issue"]["id"], c["comment"]["uuid"]) for c in comments]
    assert len(keys) == len(set(keys))
    # Every project's watermark, changed or not, moves on and is listed
    manifest = json.loads(stack.download(later["id"], "manifest.json"))
    assert set(manifest["watermarks"]) == {first["uuid"], second["uuid"]}
    for uuid, mark in manifest["watermarks"].items():
        assert mark >= initial_manifest["watermarks"][uuid]
    assert [p["since"] for p in manifest["projects"]] == [since[p] for p in since]


def test_an_explicit_updated_since_wins_and_does_not_move_the_kept_watermark_past_a_gap(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=30)
    stack = exporter_factory(sandbox, workers=1)
    (project,) = exported_projects(sandbox)
    initial = run(stack, {"resources": RESOURCES})
    kept = json.loads(stack.download(initial["id"], "manifest.json"))["watermarks"]
    sandbox.touch_issues(project["uuid"], [7, 8])  # at or after the kept watermark
    # An explicit moment a second past the kept watermark: a gap the kept one must not skip
    # (the same second would be no gap, and the watermark would rightly move).
    later = parse_rfc3339(kept[project["uuid"]]) + 1
    after_gap = datetime.fromtimestamp(later, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    explicit = run(stack, {"resources": RESOURCES, "updated_since": after_gap})
    assert explicit["projects"][0]["since"] == after_gap
    # The next incremental export still starts from the kept watermark: 7 is not lost
    incremental = run(stack, {"mode": "incremental", "resources": RESOURCES})
    assert incremental["projects"][0]["since"] == kept[project["uuid"]]
    assert {7, 8} <= {i["id"] for i in project_file(stack, incremental, "issues", project["uuid"])}


def test_watermarks_belong_to_one_caller_and_move_only_with_issues_and_comments(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=20)
    stack = exporter_factory(sandbox, workers=1)
    first = run(stack, {"mode": "incremental", "resources": RESOURCES})
    kept = json.loads(stack.download(first["id"], "manifest.json"))["watermarks"]
    # Issues alone leave comments behind: the kept watermark stays where it was
    sandbox.touch_issues(exported_projects(sandbox)[0]["uuid"], [3])
    run(stack, {"mode": "incremental", "resources": ["issues"]})
    again = run(stack, {"mode": "incremental", "resources": RESOURCES})
    assert {p["project_uuid"]: p["since"] for p in again["projects"]} == kept
    # Another API key's files are its own copy: its first incremental export is full
    other = stack.call(
        "POST",
        "/v1/exports",
        json={"mode": "incremental", "resources": RESOURCES},
        headers={"Authorization": f"Bearer {stack.other_key}"},
    ).json()
    done = wait_until(
        lambda: (
            (
                job := stack.call(
                    "GET",
                    f"/v1/exports/{other['id']}",
                    headers={"Authorization": f"Bearer {stack.other_key}"},
                ).json()
            )["finished_at"]
            and job
        ),
        timeout=60,
        what="the other key's job finished",
    )
    assert done["state"] == "succeeded", done["error"]
    assert [p["since"] for p in done["projects"]] == [None]
