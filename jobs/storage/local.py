"""LocalStorage: export files in a folder per job, `$EXPORT_DIR/{job id}/{name}`, as on
one host (or a shared file system). A file is written under `.{name}.{owner}.partial`,
fsynced and renamed into place; a checkpoint is a byte offset of that partial file, which
a later owner on the same disk copies (hashing it on the way) and goes on from."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from zlib import adler32

from jobs.layout import JOB_ID, partial_name
from jobs.storage.base import (
    ExportStorage,
    FileCheckpoint,
    Owns,
    ResumeImpossible,
    StoredFile,
    Upload,
    check_job_id,
    check_name,
)

# Export files hold project data: the owner writes, its group (a backup, a sidecar) reads,
# nobody else; whatever the process's umask.
FILE_MODE = 0o640
DIR_MODE = 0o750
COPY_CHUNK = 1 << 20
PARTIAL_SUFFIX = ".partial"


def make_dir(path: Path) -> Path:
    """`path` and its missing parents, each DIR_MODE."""
    if not path.is_dir():
        make_dir(path.parent)
        path.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(path, DIR_MODE)
    return path


def create_file(path: Path) -> BinaryIO:
    """A new (or truncated) file open for writing, FILE_MODE."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return os.fdopen(descriptor, "wb")


def partial_parts(file_name: str) -> tuple[str, str] | None:
    """(final name, owner) of a partial file's name, or None for any other file."""
    if not (file_name.startswith(".") and file_name.endswith(PARTIAL_SUFFIX)):
        return None
    name, _, owner = file_name[1 : -len(PARTIAL_SUFFIX)].rpartition(".")
    return (name, owner) if name and owner else None


class LocalUpload(Upload):
    def __init__(
        self, directory: Path, name: str, owner: str, resume: FileCheckpoint | None
    ) -> None:
        super().__init__(name)
        self.final_path = directory / name
        self.temp_path = directory / partial_name(name, owner)
        self._closed = False
        source = None
        if resume is not None:
            try:
                source = (directory / resume.temp_name).open("rb")
            except FileNotFoundError:
                raise ResumeImpossible(f"{resume.temp_name} is gone") from None
        self._handle = create_file(self.temp_path)
        if source is None or resume is None:
            return
        with source:
            left = resume.offset
            while left > 0:
                chunk = source.read(min(COPY_CHUNK, left))
                if not chunk:
                    self.discard()
                    raise ResumeImpossible(f"{resume.temp_name} is shorter than its checkpoint")
                self.write(chunk)
                left -= len(chunk)
        self.resumed = resume

    def _send(self, data: bytes) -> None:
        self._handle.write(data)

    def checkpoint(self, records: int) -> FileCheckpoint:
        # Flushed to the operating system: a killed process loses nothing of it.
        self._handle.flush()
        return FileCheckpoint(self.temp_path.name, self.size, records)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.temp_path, self.final_path)
        self._closed = True

    def discard(self) -> None:
        self._handle.close()
        if not self._closed:
            self.temp_path.unlink(missing_ok=True)
        self._closed = True


class LocalStorage(ExportStorage):
    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: str) -> Path:
        return self.root / check_job_id(job_id)

    def _path(self, job_id: str, name: str) -> Path | None:
        """The path of a job's file, or None; never anything outside its folder."""
        if not JOB_ID.fullmatch(job_id):
            return None
        try:
            check_name(name)
        except ValueError:
            return None
        directory = self.job_dir(job_id).resolve()
        path = (directory / name).resolve()
        return path if path.parent == directory else None

    # -- writing ---------------------------------------------------------------------------------

    def upload(
        self, job_id: str, name: str, *, owner: str, resume: FileCheckpoint | None = None
    ) -> LocalUpload:
        directory = make_dir(self.job_dir(job_id))
        return LocalUpload(directory, check_name(name), owner, resume)

    def put(self, job_id: str, name: str, data: bytes) -> None:
        directory = make_dir(self.job_dir(job_id))
        temp = directory / partial_name(check_name(name), f"{os.getpid()}-{time.monotonic_ns()}")
        with create_file(temp) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, directory / name)

    def sweep_partials(self, job_id: str, *, owner: str, owns: Owns) -> int:
        directory = self.job_dir(job_id)
        if not directory.is_dir():
            return 0
        removed = 0
        for path in directory.iterdir():
            parts = partial_parts(path.name)
            if parts is None or parts[1] == owner or not owns(parts[0]):
                continue
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- reading ---------------------------------------------------------------------------------

    def stat(self, job_id: str, name: str) -> StoredFile | None:
        path = self._path(job_id, name)
        if path is None or not path.is_file():
            return None
        info = path.stat()
        # The ETag werkzeug's send_file gave these files: it changes when the file does.
        check = adler32(str(path).encode()) & 0xFFFFFFFF
        return StoredFile(
            name, info.st_size, f"{info.st_mtime}-{info.st_size}-{check}", info.st_mtime
        )

    def open(self, job_id: str, name: str) -> BinaryIO:
        path = self._path(job_id, name)
        if path is None:
            raise FileNotFoundError(name)
        return path.open("rb")

    # -- removal ---------------------------------------------------------------------------------

    def delete(self, job_id: str) -> None:
        if JOB_ID.fullmatch(job_id):
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def job_ids(self) -> Iterator[tuple[str, float]]:
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if JOB_ID.fullmatch(entry.name) and entry.is_dir():
                yield entry.name, entry.stat().st_mtime

    def abort_stale_uploads(self, older_than: float) -> int:
        removed = 0
        for job_id, _ in list(self.job_ids()):
            for path in self.job_dir(job_id).iterdir():
                if partial_parts(path.name) is None:
                    continue
                try:
                    if path.stat().st_mtime < older_than:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue  # committed or swept meanwhile
        return removed
