"""S3Storage: export files as objects `{prefix}{job id}/{name}` in a bucket of any
S3-compatible store (AWS S3, MinIO, Ceph), through boto3.

A file is streamed as a multipart upload straight to its final key, in parts of at most
`part_size` bytes (plus one record), so a worker holds one part in memory whatever the
file's size. An incomplete multipart upload is invisible to every reader; completing it
publishes the whole object at once. A file smaller than one part is one PutObject at
commit, atomic too. A worker killed mid-file therefore leaves no object, only an
unfinished upload, which the next owner of the unit aborts (`sweep_partials`) and
retention aborts in any case once it is older than any task can run.

Resuming: a multipart upload's parts cannot be read back before it completes, so another
owner cannot hash the prefix it would continue; a checkpoint is therefore not resumable
here (ResumeImpossible), and a project redone after a crash re-reads its issues and
comments from the first page. Its files committed earlier (members, sheets, ...) are kept.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from jobs.layout import JOB_ID, media_type
from jobs.storage.base import (
    ExportStorage,
    FileCheckpoint,
    Owns,
    ResumeImpossible,
    StorageUnavailable,
    StoredFile,
    Upload,
    check_job_id,
    check_name,
)
from jobs.storage.s3_reader import open_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

# S3 wants every part but the last to be at least 5 MiB; 8 MiB is what AWS's own tools use.
DEFAULT_PART_SIZE = 8 << 20
MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})


P = ParamSpec("P")
R = TypeVar("R")


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in MISSING


def reaching_the_store(operation: Callable[P, R]) -> Callable[P, R]:
    """boto3's errors, once its own retries are spent, as the storage's StorageUnavailable:
    callers handle one exception whatever the backend."""

    @functools.wraps(operation)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return operation(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"object storage: {type(error).__name__}: {error}") from error

    return call


class S3Upload(Upload):
    def __init__(self, storage: S3Storage, key: str, name: str, owner: str, part_size: int) -> None:
        super().__init__(name)
        self._storage = storage
        self._client = storage.client
        self._bucket = storage.bucket
        self.key = key
        self._owner = owner
        self._part_size = part_size
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._closed = False

    @reaching_the_store
    def _send(self, data: bytes) -> None:
        self._buffer.write(data)
        if self._buffer.tell() >= self._part_size:
            self._send_part()

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self.key, ContentType=media_type(self.name)
            )["UploadId"]
            self._storage.started(self._upload_id, self._owner)
        number = len(self._parts) + 1
        # Handed over, not copied: a writer holds one part, not two.
        body, self._buffer = self._buffer, io.BytesIO()
        body.seek(0)
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def checkpoint(self, records: int) -> FileCheckpoint:
        # Progress only: another owner cannot continue this upload (see the module's note).
        return FileCheckpoint(f"s3-upload:{self._upload_id or '-'}", self.size, records)

    @reaching_the_store
    def commit(self) -> None:
        if self._upload_id is None:
            self._buffer.seek(0)
            self._client.put_object(
                Bucket=self._bucket,
                Key=self.key,
                Body=self._buffer,
                ContentType=media_type(self.name),
            )
        else:
            if self._buffer.tell():
                self._send_part()
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._storage.finished(self._upload_id)
        self._buffer = io.BytesIO()
        self._closed = True

    @reaching_the_store
    def discard(self) -> None:
        self._buffer = io.BytesIO()
        if self._closed:
            return
        self._closed = True
        if self._upload_id is not None:
            self._storage.abort(self.key, self._upload_id)


class S3Storage(ExportStorage):
    def __init__(
        self, client: S3Client, bucket: str, prefix: str = "", *, part_size: int = DEFAULT_PART_SIZE
    ) -> None:
        self.client = client
        self.bucket = bucket
        # "exports" and "exports/" both mean the folder-like prefix "exports/".
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.part_size = part_size
        # Uploads this process has open, by upload id: a sweep never aborts its own.
        self._open: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def _job_prefix(self, job_id: str) -> str:
        return f"{self.prefix}{check_job_id(job_id)}/"

    def _key(self, job_id: str, name: str) -> str:
        return f"{self._job_prefix(job_id)}{check_name(name)}"

    # -- the uploads this process has open ------------------------------------------------------

    def started(self, upload_id: str, owner: str) -> None:
        with self._lock:
            self._open[upload_id] = owner

    def finished(self, upload_id: str) -> None:
        with self._lock:
            self._open.pop(upload_id, None)

    def abort(self, key: str, upload_id: str) -> None:
        self.finished(upload_id)
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if not _missing(error):
                raise

    def _uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        """(key, upload id, initiated) of every unfinished upload under `prefix`."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                yield upload["Key"], upload["UploadId"], upload["Initiated"].timestamp()

    # -- writing ---------------------------------------------------------------------------------

    def upload(
        self, job_id: str, name: str, *, owner: str, resume: FileCheckpoint | None = None
    ) -> S3Upload:
        key = self._key(job_id, name)
        if resume is not None:
            raise ResumeImpossible(
                "an upload to object storage cannot be continued by another owner"
            )
        return S3Upload(self, key, name, owner, self.part_size)

    @reaching_the_store
    def put(self, job_id: str, name: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(job_id, name), Body=data, ContentType=media_type(name)
        )

    @reaching_the_store
    def sweep_partials(self, job_id: str, *, owner: str, owns: Owns) -> int:
        removed = 0
        prefix = self._job_prefix(job_id)
        for key, upload_id, _ in list(self._uploads(prefix)):
            with self._lock:
                mine = self._open.get(upload_id) == owner
            if mine or not owns(key[len(prefix) :]):
                continue
            self.abort(key, upload_id)
            removed += 1
        return removed

    # -- reading ---------------------------------------------------------------------------------

    @reaching_the_store
    def stat(self, job_id: str, name: str) -> StoredFile | None:
        if not JOB_ID.fullmatch(job_id):
            return None
        try:
            key = self._key(job_id, name)
        except ValueError:
            return None
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return StoredFile(
            name, head["ContentLength"], head["ETag"].strip('"'), head["LastModified"].timestamp()
        )

    def open(self, job_id: str, name: str) -> BinaryIO:
        stored = self.stat(job_id, name)
        if stored is None:
            raise FileNotFoundError(name)
        return open_object(
            self.client, self.bucket, self._key(job_id, name), stored.size, stored.etag
        )

    @reaching_the_store
    def download_url(self, job_id: str, name: str, *, expires: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(job_id, name),
                "ResponseContentDisposition": f'attachment; filename="{name}"',
                "ResponseContentType": media_type(name),
            },
            ExpiresIn=expires,
        )

    # -- removal ---------------------------------------------------------------------------------

    @reaching_the_store
    def delete(self, job_id: str) -> None:
        if not JOB_ID.fullmatch(job_id):
            return
        prefix = self._job_prefix(job_id)
        for key, upload_id, _ in list(self._uploads(prefix)):
            self.abort(key, upload_id)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:  # at most 1000 keys a page: what one DeleteObjects takes
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", [])
            ]
            if keys:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )

    def job_ids(self) -> Iterator[tuple[str, float]]:
        yield from self._latest_by_job().items()

    @reaching_the_store
    def _latest_by_job(self) -> dict[str, float]:
        latest: dict[str, float] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                job_id, _, rest = item["Key"][len(self.prefix) :].partition("/")
                if JOB_ID.fullmatch(job_id) and rest:
                    modified = item["LastModified"].timestamp()
                    latest[job_id] = max(modified, latest.get(job_id, modified))
        return latest

    @reaching_the_store
    def abort_stale_uploads(self, older_than: float) -> int:
        aborted = 0
        for key, upload_id, initiated in list(self._uploads(self.prefix)):
            if initiated < older_than:
                self.abort(key, upload_id)
                aborted += 1
        if aborted:
            log.info("stale multipart uploads aborted count=%d", aborted)
        return aborted
