"""ExportStorage: where export files live, behind one interface, so that the writers, the
manifest, downloads, deletion, retention and the database loader never know whether it
is a folder on disk or a bucket of an S3-compatible object store.

Files are addressed as (job id, name), names being those jobs/layout.py builds. A file is
written through an Upload, which counts and hashes every byte on its way out and makes the
file visible under its name only when committed: a reader (the API, a consumer of the
bucket) never sees half a file, whatever happens to the writer.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from jobs.layout import JOB_ID, servable

# Which of its files a unit owns, by final name: the sweep of earlier owners' leftovers
# must never touch another unit's.
Owns = Callable[[str], bool]


class ResumeImpossible(Exception):
    """The checkpointed partial file is gone, shorter than recorded, or the storage cannot
    continue another owner's upload: the file starts over."""


class StorageUnavailable(Exception):
    """The storage did not answer, or refused, after its own retries (an object store
    that is down, credentials it rejects): the caller's operation failed, nothing was
    presented as complete."""


class StorageNameError(ValueError):
    """A job id or file name this storage would never produce (and so never serves)."""


@dataclass(frozen=True)
class FileCheckpoint:
    """A known-good prefix of a partial file: enough to resume writing it.

    The JSON shape is the one checkpoints had before storages existed, so a unit
    checkpointed by an older worker still resumes."""

    temp_name: str
    offset: int
    records: int

    def to_json(self) -> dict[str, object]:
        return {"temp_name": self.temp_name, "offset": self.offset, "records": self.records}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileCheckpoint:
        return cls(str(data["temp_name"]), int(str(data["offset"])), int(str(data["records"])))


@dataclass(frozen=True)
class StoredFile:
    """A complete file: what a download needs to answer conditional and range requests."""

    name: str
    size: int
    etag: str  # opaque, without quotes
    modified: float  # unix seconds


class Upload(ABC):
    """One file being written. Bytes go out through `write`; nothing is visible under the
    file's name until `commit`; `discard` (or a dead process) leaves nothing that looks
    complete."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0
        self._digest = hashlib.sha256()
        # Set when the upload continues an earlier owner's checkpoint (its prefix is
        # already written and hashed): the writer then skips its header.
        self.resumed: FileCheckpoint | None = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> None:
        self._send(data)
        self._digest.update(data)
        self.size += len(data)

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Pass bytes on towards the storage (they may be buffered)."""

    @abstractmethod
    def checkpoint(self, records: int) -> FileCheckpoint:
        """Everything written so far, as durable as this storage can make a partial file."""

    @abstractmethod
    def commit(self) -> None:
        """Make the file visible, complete, under its name."""

    @abstractmethod
    def discard(self) -> None:
        """Forget the partial file; safe to call twice."""


class ExportStorage(ABC):
    """Every job's files. Implementations: LocalStorage (a folder per job under
    EXPORT_DIR) and S3Storage (keys under an s3:// prefix)."""

    # -- writing (workers) -----------------------------------------------------------------------

    @abstractmethod
    def upload(
        self, job_id: str, name: str, *, owner: str, resume: FileCheckpoint | None = None
    ) -> Upload:
        """A new upload of `name` by `owner` (a unit's owner token), continuing `resume`'s
        prefix when given (ResumeImpossible when it cannot)."""

    @abstractmethod
    def put(self, job_id: str, name: str, data: bytes) -> None:
        """Write a small file whole and atomically (the manifest)."""

    @abstractmethod
    def sweep_partials(self, job_id: str, *, owner: str, owns: Owns) -> int:
        """Remove the partial files (unfinished uploads) that owners of a unit other than
        `owner` left behind, for the file names `owns` accepts; how many."""

    # -- reading (API, database loader) ----------------------------------------------------------

    @abstractmethod
    def stat(self, job_id: str, name: str) -> StoredFile | None:
        """The complete file `name` of a job, or None."""

    def exists(self, job_id: str, name: str) -> bool:
        return self.stat(job_id, name) is not None

    @abstractmethod
    def open(self, job_id: str, name: str) -> BinaryIO:
        """A seekable binary stream of a complete file (FileNotFoundError when there is
        none); the caller closes it."""

    def download_url(self, job_id: str, name: str, *, expires: int) -> str | None:
        """A URL that lets anyone holding it fetch the file directly for `expires`
        seconds, or None when this storage has no such thing (a folder on disk)."""
        del job_id, name, expires
        return None

    # -- removal (API, retention) ----------------------------------------------------------------

    @abstractmethod
    def delete(self, job_id: str) -> None:
        """Every file of a job, complete or partial."""

    @abstractmethod
    def job_ids(self) -> Iterator[tuple[str, float]]:
        """Every job that has files, with when they last changed (unix seconds)."""

    @abstractmethod
    def abort_stale_uploads(self, older_than: float) -> int:
        """Remove partial files (unfinished uploads) started before `older_than` (unix
        seconds): no live writer is that old, so a dead one left them; how many."""


def check_job_id(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise StorageNameError(f"not a job id: {job_id!r}")
    return job_id


def check_name(name: str) -> str:
    if not servable(name):
        raise StorageNameError(f"not an export file name: {name!r}")
    return name
