"""End to end over HTTP: submit an export to the job API, two Celery workers carry it out
against the sandbox, and every file matches what the sandbox holds."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.support.exporter import StartStack, exported_licence, ndjson
from tests.support.sandbox import SandboxFactory


def files_by_name(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in job["files"]}


def test_a_full_export_matches_the_sandbox_record_for_record(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=3, issues_per_project=250, seed=5)
    stack = exporter_factory(sandbox, workers=2)
    job = stack.submit()
    assert job["state"] == "queued"
    done = stack.wait_finished(job["id"])
    assert done["state"] == "succeeded", done["error"]

    licence = exported_licence(sandbox)
    files = files_by_name(done)
    for project in licence["projects"]:
        key = project["uuid"].replace("-", "")
        assert files[f"issues-{key}.ndjson"]["records"] == project["issues"] == 250
        assert files[f"comments-{key}.ndjson"]["records"] == project["comments"]
        issues = ndjson(stack.download(done["id"], f"issues-{key}.ndjson"))
        assert sorted(i["id"] for i in issues) == list(range(1, 251))
        comments = ndjson(stack.download(done["id"], f"comments-{key}.ndjson"))
        per_issue = {i["uuid"]: i["comments"] for i in issues}
        counted: dict[str, int] = {}
        for record in comments:
            counted[record["issue"]["uuid"]] = counted.get(record["issue"]["uuid"], 0) + 1
        assert counted == {uuid: n for uuid, n in per_issue.items() if n}
    assert done["progress"]["projects_done"] == done["progress"]["projects_total"] == 3
    # Frozen and API-less licences are skipped, with the reason, not silently dropped
    reasons = {s["reason"] for s in done["skipped"] if s["kind"] == "license"}
    assert reasons == {"frozen", "no_api_access"}

    manifest = json.loads(stack.download(done["id"], "manifest.json"))
    assert manifest["state"] == "succeeded"
    assert manifest["request"] == done["request"]
    assert len(manifest["files"]) == len(done["files"])
    for entry in manifest["files"]:
        data = stack.download(done["id"], entry["name"])
        assert len(data) == entry["size"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["records"] == (len(ndjson(data)) if data else 0)
    assert set(manifest["watermarks"]) == {p["uuid"] for p in licence["projects"]}
    # Nothing half-written is left behind
    leftovers = [
        p.name for p in Path(stack.export_dir, done["id"]).iterdir() if p.name.startswith(".")
    ]
    assert leftovers == []
    # Project data is not world-readable: files 0640, folders 0750, whatever the umask
    folder = Path(stack.export_dir, done["id"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE(stack.export_dir.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o640}


def test_csv_export_parses_back_to_the_same_issues(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=120, seed=9)
    stack = exporter_factory(sandbox, workers=1)
    job = stack.submit({"format": "csv", "resources": ["issues", "comments"]})
    done = stack.wait_finished(job["id"])
    assert done["state"] == "succeeded", done["error"]
    project = exported_licence(sandbox)["projects"][0]
    key = project["uuid"].replace("-", "")
    reference = stack.submit({"resources": ["issues"]})
    reference_done = stack.wait_finished(reference["id"])
    originals = ndjson(stack.download(reference_done["id"], f"issues-{key}.ndjson"))

    text = stack.download(done["id"], f"issues-{key}.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(int(r["id"]), r["title"]) for r in rows] == [
        (i["id"], i["title"]["value"]) for i in originals
    ]
    assert all(r["projectUuid"] == project["uuid"] for r in rows)
    assert any("\n" in r["title"] or '"' in r["title"] or "," in r["title"] for r in rows)
    never = [
        r
        for r, i in zip(rows, originals, strict=True)
        if i["deadline"]["value"] == "2000-01-01 00:00:00"
    ]
    assert never
    assert all(r["deadline"] == "" for r in never)
    comment_rows = list(
        csv.DictReader(
            io.StringIO(
                stack.download(done["id"], f"comments-{key}.csv").decode("utf-8-sig"), newline=""
            )
        )
    )
    assert len(comment_rows) == project["comments"]
    assert {r["type"] for r in comment_rows} >= {"text", "diff"}


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_real_captured_issues_export_in_every_format(
    sandbox_factory: SandboxFactory,
    exporter_factory: StartStack,
    real_issues_fixture: Path,
    fmt: str,
) -> None:
    captured = json.loads(real_issues_fixture.read_text())
    sandbox = sandbox_factory(projects=1, issues_per_project=2, fixtures=str(real_issues_fixture))
    stack = exporter_factory(sandbox, workers=1)
    uuids = [p["projectUuid"] for p in captured["projects"]]
    job = stack.submit({"format": fmt, "project_uuids": uuids, "resources": ["issues", "comments"]})
    done = stack.wait_finished(job["id"])
    assert done["state"] == "succeeded", done["error"]
    for project in captured["projects"]:
        expected = sorted(project["issues"], key=lambda i: i["id"])
        name = f"issues-{project['projectUuid'].replace('-', '')}.{fmt}"
        data = stack.download(done["id"], name)
        if fmt == "ndjson":
            assert ndjson(data) == expected
        elif fmt == "json":
            assert json.loads(data) == expected
        else:
            rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
            assert [r["uuid"] for r in rows] == [i["uuid"] for i in expected]
            assert [r["title"] for r in rows] == [i["title"]["value"] for i in expected]
            by_uuid = {i["uuid"]: i for i in expected}
            for row in rows:
                issue = by_uuid[row["uuid"]]
                assert row["customStatusName"] == issue.get("customStatusName", "")
                assert row["preview.original"] == issue.get("preview", {}).get("original", "")
                sheet = issue["sheet"]["value"]
                assert row["sheet.name"] == (
                    str(sheet.get("name", "")) if isinstance(sheet, dict) else ""
                )
        comments = done["files"]
        assert any(f["resource"] == "comments" for f in comments)
