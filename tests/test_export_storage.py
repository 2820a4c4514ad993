"""The export storage, both backends behind one interface: a folder per job on disk, and
an S3 bucket on a real S3-protocol server (moto). Whatever the backend, a file is visible
only once committed, reads back byte for byte (also by range), and deletion, sweeps and
retention leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from api.downloads import chosen_download_mode
from jobs.request import ExportRequest
from jobs.storage import (
    ExportStorage,
    ResumeImpossible,
    StorageConfigError,
    StorageNameError,
    StorageUnavailable,
    check_storage_url,
    open_storage,
)
from jobs.storage.local import LocalStorage
from jobs.storage.s3 import S3Storage
from jobs.store import JobStore
from tests.support.moto_server import MotoServer
from tests.support.ports import free_port
from worker.csv_columns import ISSUE_COLUMNS
from worker.retention import apply_retention
from worker.writers import CsvWriter, NdjsonWriter

JOB = "0123456789abcdef0123456789abcdef"
OTHER_JOB = "fedcba9876543210fedcba9876543210"
PART = 4096  # tiny parts, so that a few records already make a multipart upload
PROJECT = "5a1f4f8e0f7a4b0c9d1e2f3a4b5c6d7e"
ISSUES = f"issues-{PROJECT}.ndjson"
COMMENTS = f"comments-{PROJECT}.ndjson"


class Backend:
    """A storage under test and a look at what it really holds."""

    def __init__(self, storage: ExportStorage, root: Path | None, moto: MotoServer | None):
        self.storage = storage
        self.root = root
        self.moto = moto

    def leftovers(self, job_id: str) -> list[str]:
        """Everything stored for a job that is not a complete file: partial files on disk,
        unfinished multipart uploads in the bucket."""
        if isinstance(self.storage, S3Storage) and self.moto is not None:
            return self.moto.uploads(self.storage.bucket, f"{self.storage.prefix}{job_id}/")
        return [name for name in self._folder(job_id) if name.startswith(".")]

    def names(self, job_id: str) -> list[str]:
        """The complete files of a job."""
        if isinstance(self.storage, S3Storage) and self.moto is not None:
            prefix = f"{self.storage.prefix}{job_id}/"
            return [k[len(prefix) :] for k in self.moto.keys(self.storage.bucket, prefix)]
        return [name for name in self._folder(job_id) if not name.startswith(".")]

    def _folder(self, job_id: str) -> list[str]:
        folder = (self.root or Path()) / job_id
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield Backend(LocalStorage(tmp_path / "exports"), tmp_path / "exports", None)
        return
    moto: MotoServer = request.getfixturevalue("moto_server")
    bucket = moto.new_bucket()
    env = moto.env(bucket, "team/exports")
    storage = open_storage(env["EXPORT_STORAGE_URL"], tmp_path / "unused", env, part_size=PART)
    assert isinstance(storage, S3Storage)
    yield Backend(storage, None, moto)


def records(count: int) -> list[dict[str, object]]:
    return [{"id": n, "title": f"issue {n} " + "x" * 200} for n in range(count)]


def write(storage: ExportStorage, name: str, items: list[dict[str, object]], owner: str) -> bytes:
    writer = NdjsonWriter(storage.upload(JOB, name, owner=owner))
    for item in items:
        writer.write(item)
    writer.commit()
    return b"".join(json.dumps(i, separators=(",", ":")).encode() + b"\n" for i in items)


def test_a_file_is_visible_only_once_committed_and_reads_back_exactly(backend: Backend) -> None:
    storage = backend.storage
    writer = NdjsonWriter(storage.upload(JOB, ISSUES, owner="o1"))
    for item in records(100):  # about 22 KiB: several parts in object storage
        writer.write(item)
    assert storage.stat(JOB, ISSUES) is None
    assert not storage.exists(JOB, ISSUES)
    assert backend.names(JOB) == []
    assert backend.leftovers(JOB) != []  # a partial file, or an unfinished upload
    written = writer.commit()
    stored = storage.stat(JOB, ISSUES)
    assert stored is not None
    with storage.open(JOB, ISSUES) as handle:
        data = handle.read()
    assert (stored.size, len(data), written.size) == (len(data), written.size, stored.size)
    assert hashlib.sha256(data).hexdigest() == written.sha256
    assert data.count(b"\n") == written.records == 100
    assert backend.names(JOB) == [ISSUES]
    assert backend.leftovers(JOB) == []
    # Reads seek like a file: a range is read from where it starts
    with storage.open(JOB, ISSUES) as handle:
        handle.seek(5000)
        assert handle.read(300) == data[5000:5300]
        handle.seek(-10, io.SEEK_END)
        assert handle.read() == data[-10:]


def test_a_small_file_and_the_manifest_are_written_whole(backend: Backend) -> None:
    storage = backend.storage
    writer = NdjsonWriter(storage.upload(JOB, "licenses.ndjson", owner="o1"))
    writer.write({"uuid": "l1"})
    assert backend.names(JOB) == []
    writer.commit()
    storage.put(JOB, "manifest.json", b'{"state": "running"}\n')
    storage.put(JOB, "manifest.json", b'{"state": "succeeded"}\n')
    with storage.open(JOB, "manifest.json") as handle:
        assert handle.read() == b'{"state": "succeeded"}\n'
    assert backend.names(JOB) == ["licenses.ndjson", "manifest.json"]
    assert backend.leftovers(JOB) == []


def test_a_discarded_or_crashed_writer_leaves_nothing(backend: Backend) -> None:
    storage = backend.storage

    def crash() -> None:
        with NdjsonWriter(storage.upload(JOB, ISSUES, owner="o1")) as writer:
            for item in records(100):
                writer.write(item)
            raise RuntimeError("the export crashed")

    with pytest.raises(RuntimeError):
        crash()
    assert backend.names(JOB) == []
    assert backend.leftovers(JOB) == []


def test_a_sweep_removes_only_earlier_owners_unfinished_files_of_the_unit(
    backend: Backend,
) -> None:
    storage = backend.storage
    dead = NdjsonWriter(storage.upload(JOB, ISSUES, owner="dead"))
    other_unit = NdjsonWriter(storage.upload(JOB, "issues-" + "0" * 32 + ".ndjson", owner="x"))
    mine = NdjsonWriter(storage.upload(JOB, COMMENTS, owner="me"))
    for writer in (dead, other_unit, mine):
        for item in records(40):
            writer.write(item)
    assert len(backend.leftovers(JOB)) == 3

    def owns(name: str) -> bool:
        return f"-{PROJECT}." in name

    assert storage.sweep_partials(JOB, owner="me", owns=owns) == 1
    assert len(backend.leftovers(JOB)) == 2
    mine.commit()  # its own upload was left alone
    other_unit.discard()
    assert backend.names(JOB) == [COMMENTS]
    assert backend.leftovers(JOB) == []


def test_deletion_removes_a_jobs_files_and_unfinished_uploads_only(backend: Backend) -> None:
    storage = backend.storage
    write(storage, ISSUES, records(30), "o1")
    unfinished = NdjsonWriter(storage.upload(JOB, COMMENTS, owner="o1"))
    for item in records(40):
        unfinished.write(item)
    other = NdjsonWriter(storage.upload(OTHER_JOB, "licenses.ndjson", owner="o2"))
    other.write({"uuid": "l"})
    other.commit()
    assert {job for job, _ in storage.job_ids()} == {JOB, OTHER_JOB}
    storage.delete(JOB)
    assert backend.names(JOB) == []
    assert backend.leftovers(JOB) == []
    assert [job for job, _ in storage.job_ids()] == [OTHER_JOB]
    assert storage.exists(OTHER_JOB, "licenses.ndjson")


def test_stale_unfinished_uploads_are_aborted_fresh_ones_kept(backend: Backend) -> None:
    storage = backend.storage
    writer = NdjsonWriter(storage.upload(JOB, ISSUES, owner="dead"))
    for item in records(40):
        writer.write(item)
    if backend.moto is None:
        # (moto dates every multipart upload 2010-11-10, so only the disk shows this half)
        assert storage.abort_stale_uploads(time.time() - 3600) == 0
    assert backend.leftovers(JOB) != []
    assert storage.abort_stale_uploads(time.time() + 60) == 1
    assert backend.leftovers(JOB) == []


def test_retention_removes_expired_jobs_orphans_and_stale_uploads(
    backend: Backend, redis_url: str
) -> None:
    storage = backend.storage
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    jobs = JobStore(client)
    jobs.create(OTHER_JOB, ExportRequest().as_record(), owner="main")  # running: kept
    write(storage, ISSUES, records(10), "o1")  # files of a job no record claims
    stale = NdjsonWriter(storage.upload(OTHER_JOB, ISSUES, owner="dead"))
    for item in records(40):
        stale.write(item)
    later = time.time() + 7200
    result = apply_retention(jobs, storage, retention_days=30, stale_upload_seconds=60, now=later)
    assert result == {"jobs": 0, "orphans": 1, "stale_uploads": 1}
    assert backend.names(JOB) == []
    assert backend.leftovers(OTHER_JOB) == []
    client.close()


def test_csv_in_object_storage_is_byte_for_byte_the_csv_on_disk(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    bucket = moto_server.new_bucket()
    s3 = S3Storage(moto_server.client(), bucket, "", part_size=PART)
    disk = LocalStorage(tmp_path)
    issues = [
        {"id": n, "uuid": f"u{n}", "title": {"value": f'Pipe, "{n}"\nnote'}} for n in range(80)
    ]
    digests = []
    for storage in (s3, disk):
        writer = CsvWriter(
            storage.upload(JOB, "issues.csv", owner="o"),
            columns=ISSUE_COLUMNS,
            prefix={"projectUuid": "p"},
        )
        for issue in issues:
            writer.write(issue)
        written = writer.commit()
        with storage.open(JOB, "issues.csv") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == written.sha256
        digests.append(written.sha256)
    assert digests[0] == digests[1]
    assert moto_server.keys(bucket) == [f"{JOB}/issues.csv"]


def test_object_storage_cannot_resume_another_owners_upload(moto_server: MotoServer) -> None:
    storage = S3Storage(moto_server.client(), moto_server.new_bucket(), "x", part_size=PART)
    writer = NdjsonWriter(storage.upload(JOB, ISSUES, owner="dead"))
    for item in records(40):
        writer.write(item)
    checkpoint = writer.checkpoint()
    assert checkpoint.offset == writer.upload.size
    with pytest.raises(ResumeImpossible):
        storage.upload(JOB, ISSUES, owner="next", resume=checkpoint)


def test_a_presigned_url_fetches_the_file_without_credentials(moto_server: MotoServer) -> None:
    bucket = moto_server.new_bucket()
    storage = S3Storage(moto_server.client(), bucket, "exports", part_size=PART)
    data = write(storage, ISSUES, records(50), "o1")
    url = storage.download_url(JOB, ISSUES, expires=60)
    assert url is not None
    assert url.startswith(moto_server.url)
    reply = requests.get(url, timeout=10)
    assert reply.status_code == 200
    assert reply.content == data
    assert ISSUES in reply.headers["Content-Disposition"]
    assert LocalStorage(Path("/nonexistent")).download_url(JOB, ISSUES, expires=60) is None


def test_names_outside_the_layout_are_refused(backend: Backend) -> None:
    storage = backend.storage
    for name in ("../appsettings.json", ".issues.ndjson.o.partial", "a/b.csv", "x.txt"):
        assert storage.stat(JOB, name) is None
        with pytest.raises(StorageNameError):
            storage.upload(JOB, name, owner="o")
    assert storage.stat("../etc", "manifest.json") is None
    with pytest.raises(FileNotFoundError):
        storage.open(JOB, "manifest.json")


def test_the_storage_url_and_download_mode_are_checked_at_start(tmp_path: Path) -> None:
    assert isinstance(open_storage("", tmp_path, {}), LocalStorage)
    local = open_storage(f"file://{tmp_path}/files", Path("unused"), {})
    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path / "files"
    for bad in ("exports", "file://host/x", "file:relative", "s3://", "s3://b/p?x=1", "gs://b"):
        with pytest.raises(StorageConfigError):
            check_storage_url(bad)
    check_storage_url("s3://bucket")
    assert chosen_download_mode("", "s3://b/p") == "redirect"
    assert chosen_download_mode("", "") == "proxy"
    assert chosen_download_mode("proxy", "s3://b") == "proxy"
    with pytest.raises(StorageConfigError):
        chosen_download_mode("redirect", "")
    with pytest.raises(StorageConfigError):
        chosen_download_mode("stream", "s3://b")


def test_an_unreachable_object_store_is_one_error_whatever_the_call(tmp_path: Path) -> None:
    env = {
        **MotoServer.credentials(),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens there
        "AWS_MAX_ATTEMPTS": "1",
    }
    storage = open_storage("s3://bucket/exports", tmp_path, env)
    with pytest.raises(StorageUnavailable):
        storage.stat(JOB, ISSUES)
    with pytest.raises(StorageUnavailable):
        storage.put(JOB, "manifest.json", b"{}")
    with pytest.raises(StorageUnavailable):
        storage.delete(JOB)
    writer = NdjsonWriter(storage.upload(JOB, ISSUES, owner="o"))
    writer.write({"id": 1})
    with pytest.raises(StorageUnavailable):
        writer.commit()
