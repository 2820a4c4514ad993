"""Export files in S3-compatible object storage, end to end with real processes: the
sandbox, Redis, the job API, Celery workers and a real S3-protocol server (moto).

An export in a bucket downloads by redirect to a presigned URL and through the API, byte
for byte what the manifest says; workers on hosts that share no disk export one job
together; a worker killed mid-upload leaves no object that looks complete; deleting a job
and retention remove its objects."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.exporter import ExporterStack, StartStack, wait_for_progress
from tests.support.moto_server import MotoServer
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, python_module
from tests.support.sandbox import SandboxFactory
from tests.support.waiting import wait_until

PREFIX = "exports"
# Small parts (moto_server accepts them) so that a few hundred issues make several.
PART_BYTES = "65536"
STALL_SECONDS = 8  # tests.support.exporter's EXPORT_STALL_SECONDS


def s3_env(moto: MotoServer, bucket: str, **extra: str) -> dict[str, str]:
    return moto.env(bucket, PREFIX, EXPORT_S3_PART_BYTES=PART_BYTES, **extra)


def start_api(stack: ExporterStack, name: str, **env: str) -> tuple[ManagedProcess, str]:
    """Another job API on the stack's Redis and bucket, with `env` on top (another host,
    another download mode)."""
    port = free_port()
    process = ManagedProcess(
        name,
        python_module("api"),
        stack.log_dir,
        env={**stack.env, "API_BIND": f"127.0.0.1:{port}", **env},
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_http_ok(f"{url}/readyz")
    return process, url


def by_redirect(stack: ExporterStack, moto: MotoServer, job_id: str, name: str) -> bytes:
    """The file as a client gets it: a 302 from the API, then the presigned URL, which
    needs no key of ours."""
    reply = stack.call("GET", f"/v1/exports/{job_id}/files/{name}", allow_redirects=False)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Cache-Control"] == "no-store"
    location = reply.headers["Location"]
    assert location.startswith(f"{moto.url}/"), location
    fetched = requests.get(location, timeout=30)
    assert fetched.status_code == 200, fetched.text
    return fetched.content


def through(url: str, key: str, job_id: str, name: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{url}/v1/exports/{job_id}/files/{name}",
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=30,
        allow_redirects=False,
    )


def assert_matches_manifest(manifest: dict[str, Any], fetch: Any) -> None:
    """Every file the manifest lists downloads, with its size and sha256."""
    assert manifest["files"]
    for entry in manifest["files"]:
        data = fetch(entry["name"])
        assert len(data) == entry["size"], entry["name"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]


def job_keys(moto: MotoServer, bucket: str, job_id: str) -> list[str]:
    return [k.rpartition("/")[2] for k in moto.keys(bucket, f"{PREFIX}/{job_id}/")]


def test_an_export_in_a_bucket_downloads_by_redirect_and_through_the_api(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, moto_server: MotoServer
) -> None:
    sandbox = sandbox_factory(projects=2, issues_per_project=150, seed=11)
    bucket = moto_server.new_bucket()
    stack = exporter_factory(sandbox, workers=2, worker_env=s3_env(moto_server, bucket))
    done = stack.wait_finished(stack.submit()["id"])
    assert done["state"] == "succeeded", done["error"]
    job_id = done["id"]

    # Redirect (the default with object storage): the manifest, then every file it lists
    manifest = json.loads(by_redirect(stack, moto_server, job_id, "manifest.json"))
    assert manifest["state"] == "succeeded"
    assert_matches_manifest(manifest, lambda name: by_redirect(stack, moto_server, job_id, name))
    # The bucket holds exactly the complete files and the manifest, nothing unfinished,
    # and no export file touched the API's or the workers' disk
    listed = sorted([*(f["name"] for f in manifest["files"]), "manifest.json"])
    assert job_keys(moto_server, bucket, job_id) == listed
    assert moto_server.uploads(bucket, PREFIX) == []
    assert not (stack.export_dir / job_id).exists()
    # The same authorisation as ever: another key's caller gets a 404, not a URL
    refused = through(stack.api_url, stack.other_key, job_id, "manifest.json")
    assert refused.status_code == 404
    assert "Location" not in refused.headers

    # Proxy: the API streams the object, with ranges and conditional requests
    api, proxy_url = start_api(stack, "api-proxy", EXPORT_DOWNLOAD_MODE="proxy")
    try:

        def proxied(name: str) -> bytes:
            reply = through(proxy_url, stack.api_key, job_id, name)
            assert reply.status_code == 200, reply.text
            return reply.content

        assert_matches_manifest(manifest, proxied)
        largest = max(manifest["files"], key=lambda f: f["size"])
        data = proxied(largest["name"])
        assert len(data) > 300_000  # several upload parts
        part = through(proxy_url, stack.api_key, job_id, largest["name"], Range="bytes=70000-70999")
        assert part.status_code == 206
        assert part.content == data[70000:71000]
        assert part.headers["Content-Range"] == f"bytes 70000-70999/{len(data)}"
        etag = through(proxy_url, stack.api_key, job_id, largest["name"]).headers["ETag"]
        again = through(
            proxy_url, stack.api_key, job_id, largest["name"], **{"If-None-Match": etag}
        )
        assert again.status_code == 304
        outside = through(
            proxy_url, stack.api_key, job_id, largest["name"], Range=f"bytes={len(data) + 5}-"
        )
        assert outside.status_code == 416
        assert outside.headers["Content-Range"] == f"bytes */{len(data)}"
        assert through(proxy_url, stack.other_key, job_id, largest["name"]).status_code == 404
    finally:
        api.stop()


def test_workers_on_hosts_that_share_no_disk_export_one_job(
    sandbox_factory: SandboxFactory,
    exporter_factory: StartStack,
    moto_server: MotoServer,
    tmp_path: Path,
) -> None:
    sandbox = sandbox_factory(projects=4, issues_per_project=80, seed=3, latency_ms=10)
    bucket = moto_server.new_bucket()
    # The API's EXPORT_DIR is the stack's; each worker has a private one, as on its own host
    stack = exporter_factory(sandbox, workers=0, worker_env=s3_env(moto_server, bucket))
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    for index, private in enumerate(hosts):
        stack.add_worker(f"worker-host{index}", env={"EXPORT_DIR": str(private)})
    done = stack.wait_finished(stack.submit({"format": "csv"})["id"])
    assert done["state"] == "succeeded", done["error"]
    manifest = json.loads(stack.download(done["id"], "manifest.json"))  # following the 302
    assert_matches_manifest(manifest, lambda name: stack.download(done["id"], name))
    assert len(manifest["files"]) == len(done["files"])
    for worker in stack.workers:  # each "host" wrote some of the files the api served
        assert f"project exported job={done['id']}" in worker.log(), worker.process.name
    for private in [*hosts, stack.export_dir]:
        found = [p for p in private.rglob("*") if p.is_file()] if private.exists() else []
        assert found == [], found


def test_a_worker_killed_mid_upload_leaves_no_object_that_looks_complete(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, moto_server: MotoServer
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=400, latency_ms=10)
    bucket = moto_server.new_bucket()
    stack = exporter_factory(sandbox, workers=1, worker_env=s3_env(moto_server, bucket))
    job = stack.submit({"resources": ["issues", "comments"]})
    job_prefix = f"{PREFIX}/{job['id']}/"
    wait_for_progress(stack, job["id"], "comments", 200)
    wait_until(
        lambda: moto_server.uploads(bucket, job_prefix),
        timeout=60,
        what="a multipart upload under way",
    )
    worker = stack.workers[0]
    os.killpg(worker.process.pid, signal.SIGKILL)  # the host dies: no cleanup runs
    # What the dead worker was writing is an unfinished upload, never an object
    assert moto_server.uploads(bucket, job_prefix)
    assert not [k for k in job_keys(moto_server, bucket, job["id"]) if k.startswith("issues-")]
    assert not [k for k in job_keys(moto_server, bucket, job["id"]) if k.startswith("comments")]

    stack.add_worker("worker-after-crash")
    done = stack.wait_finished(job["id"], timeout=3 * STALL_SECONDS + 60)
    assert done["state"] == "succeeded", done
    manifest = json.loads(stack.download(job["id"], "manifest.json"))
    assert_matches_manifest(manifest, lambda name: stack.download(job["id"], name))
    # The new owner aborted the dead one's uploads before starting its own
    assert moto_server.uploads(bucket, job_prefix) == []
    assert "temporary files of an earlier attempt removed" in stack.logs()


@pytest.mark.slow
def test_deletion_and_retention_remove_the_objects(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, moto_server: MotoServer
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=10)
    bucket = moto_server.new_bucket()
    env = s3_env(
        moto_server,
        bucket,
        EXPORT_RETENTION_DAYS="0.00025",  # about 22 s: long enough to delete one by hand
        EXPORT_RETENTION_INTERVAL_SECONDS="1",
    )
    stack = exporter_factory(sandbox, workers=1, worker_env=env, beat=True)
    first = stack.submit({"resources": ["licenses"]})
    deleted = stack.wait_finished(first["id"])
    assert stack.call("DELETE", f"/v1/exports/{deleted['id']}").status_code == 204
    assert job_keys(moto_server, bucket, deleted["id"]) == []

    expired = stack.wait_finished(stack.submit({"resources": ["licenses"]})["id"])
    assert job_keys(moto_server, bucket, expired["id"]) == ["licenses.ndjson", "manifest.json"]
    wait_until(
        lambda: stack.call("GET", f"/v1/exports/{expired['id']}").status_code == 404,
        timeout=90,
        what="the expired job removed by retention",
    )
    assert job_keys(moto_server, bucket, expired["id"]) == []
    assert "retention removed jobs=1" in stack.logs()
