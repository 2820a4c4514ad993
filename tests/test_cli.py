"""`revizto-export`, the command-line client, against a running stack: every command, its
human and --json output, and its exit codes (0, 1 failed, 2 usage/API/connection, 3
partial)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import stop_and_check_for_leaks
from tests.support.exporter import ExporterStack, exported_projects
from tests.support.ports import free_port
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxProcess

CLI_TESTS_REDIS_DB = 5
CLI = str(Path(sys.executable).parent / "revizto-export")


@pytest.fixture(scope="module")
def stack(
    redis_server: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExporterStack]:
    directory = tmp_path_factory.mktemp("cli-stack")
    sandbox = SandboxProcess(directory, projects=2, issues_per_project=20)
    redis.Redis.from_url(redis_server.url(CLI_TESTS_REDIS_DB)).flushdb()
    stack = ExporterStack(
        directory,
        redis_server.url(CLI_TESTS_REDIS_DB),
        sandbox,
        workers=1,
        worker_env={"EXPORT_PROJECT_RETRY_WINDOW_SECONDS": "2"},
    )
    yield stack
    try:
        stop_and_check_for_leaks(stack)
    finally:
        sandbox.stop()


def cli(
    stack: ExporterStack, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "EXPORTER_URL": url or stack.api_url,
        "EXPORTER_API_KEY": stack.api_key,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_projects_lists_licences_projects_and_skip_reasons(stack: ExporterStack) -> None:
    human = cli(stack, "projects")
    assert human.returncode == 0, human.stderr
    for project in exported_projects(stack.sandbox):
        assert project["uuid"] in human.stdout
    assert "no_api_access" in human.stdout
    machine = as_json(cli(stack, "--json", "projects"))
    assert {lic["reason"] for lic in machine["licenses"]} >= {"frozen", "no_api_access"}


def test_export_waits_downloads_and_verifies_every_file(
    stack: ExporterStack, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    done = cli(
        stack, "export", "--resource", "issues", "--resource", "comments", "--download", str(target)
    )
    assert done.returncode == 0, done.stderr
    # Not a terminal: progress is plain lines, one per change, on stderr
    assert "project  succeeded" in done.stderr
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["state"] == "succeeded"
    for entry in manifest["files"]:
        data = (target / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    job_id = manifest["job_id"]

    status = as_json(cli(stack, "--json", "status", job_id))
    assert status["state"] == "succeeded"
    human = cli(stack, "status", job_id)
    assert job_id in human.stdout
    assert "project  succeeded" in human.stdout
    listed = as_json(cli(stack, "--json", "list", "--state", "succeeded", "--limit", "50"))
    assert job_id in {j["id"] for j in listed["jobs"]}
    # Nothing to retry or cancel on a succeeded job: the API's 409, exit code 2
    for command in ("retry", "cancel"):
        refused = cli(stack, command, job_id)
        assert refused.returncode == 2
        assert "HTTP 409" in refused.stderr


def test_download_refuses_a_file_that_does_not_match_the_manifest(
    stack: ExporterStack, tmp_path: Path
) -> None:
    submitted = as_json(cli(stack, "--json", "export", "--resource", "licenses", "--wait"))
    job_id = submitted["id"]
    (stack.export_dir / job_id / "licenses.ndjson").write_text("tampered\n")
    done = cli(stack, "download", job_id, str(tmp_path / "copy"))
    assert done.returncode == 1
    assert "sha256 mismatch: licenses.ndjson" in done.stderr


def test_exit_codes_follow_the_job_partial_then_retried(stack: ExporterStack) -> None:
    _, second = exported_projects(stack.sandbox)
    stack.sandbox.set_faults(fail_projects=[second["uuid"]])
    try:
        partial = cli(stack, "--json", "export", "--resource", "issues", "--wait")
    finally:
        stack.sandbox.set_faults(fail_projects=[])
    assert partial.returncode == 3, partial.stderr
    job = as_json(partial)
    assert job["state"] == "partially_succeeded"
    again = cli(stack, "retry", job["id"], "--wait")
    assert again.returncode == 0, again.stderr
    failed = cli(stack, "export", "--project", "0" * 32, "--wait")
    assert failed.returncode == 1
    assert "projects_not_found" in failed.stdout


def test_credential_shows_the_state_without_a_token(stack: ExporterStack) -> None:
    done = cli(stack, "--json", "credential")
    assert done.returncode == 0, done.stderr
    state = as_json(done)
    assert state["reauth_required"] is False
    assert state["access_token_expires_at"].endswith("Z")
    assert 'token"' not in done.stdout.replace("_token", "")


def test_usage_and_connection_errors_exit_2(stack: ExporterStack) -> None:
    unknown = cli(stack, "export", "--resource", "clashes")
    assert unknown.returncode == 2
    unreachable = cli(stack, "list", url=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2
    assert "unreachable" in unreachable.stderr
    missing = cli(stack, "status", "f" * 32)
    assert missing.returncode == 2
    assert "HTTP 404" in missing.stderr


def test_help_works_unconfigured_and_a_missing_url_is_named() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    helped = subprocess.run(
        [CLI, "export", "--help"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert helped.returncode == 0, helped.stderr
    assert "--download DIRECTORY" in helped.stdout
    unset = subprocess.run(
        [CLI, "projects"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert unset.returncode == 2
    assert "EXPORTER_URL" in unset.stderr


def test_an_incremental_sync_into_the_embedded_database(stack: ExporterStack) -> None:
    command = ("--json", "export", "--mode", "incremental", "--destination", "local")
    # issues and comments both: only such a sync moves the kept watermarks
    both = ("--resource", "issues", "--resource", "comments")
    first = cli(stack, *command, *both, "--wait")
    assert first.returncode == 0, first.stderr
    job = as_json(first)
    assert job["request"]["destination"] == {"type": "database", "name": "local"}
    again = as_json(cli(stack, *command, *both, "--wait"))
    assert all(p["since"] for p in again["projects"]), again["projects"]
    unknown = cli(stack, "export", "--destination", "nope")
    assert unknown.returncode == 2
    assert "destination.name" in unknown.stderr
