"""ExportFiles: the folder that holds every job's files (`$EXPORT_DIR/{job id}/`), for
the workers that write them, the API that serves and deletes them, and retention."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from jobs.layout import JOB_ID, job_dir, servable

# Export files hold project data: the owner writes, its group (a backup, a sidecar) reads,
# nobody else; whatever the process's umask.
FILE_MODE = 0o640
DIR_MODE = 0o750


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


class ExportFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: str) -> Path:
        return job_dir(self.root, job_id)

    def existing(self, job_id: str, name: str) -> Path | None:
        """The path of a finished file of a job, or None; never anything outside its folder."""
        if not JOB_ID.fullmatch(job_id) or not servable(name):
            return None
        directory = self.job_dir(job_id).resolve()
        path = (directory / name).resolve()
        if path.parent != directory or not path.is_file():
            return None
        return path

    def delete(self, job_id: str) -> None:
        if JOB_ID.fullmatch(job_id):
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def job_ids(self) -> Iterator[tuple[str, float]]:
        """Every job folder on disk, with its last modification time."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if JOB_ID.fullmatch(entry.name) and entry.is_dir():
                yield entry.name, entry.stat().st_mtime
