"""UnitOutput: the files one unit of a job (the account part, or one project) writes.

Every file is written under a temporary name and committed by rename; committing records
the file on the job (name, size, sha256, records) and its record count for progress.
Counts are set, not added, per unit: a redelivered task overwrites its own numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from worker.jobs import FileEntry, JobStore
from worker.metrics import EXPORT_RECORDS
from worker.outputs import file_name, open_writer
from worker.writers import RecordWriter


class UnitOutput:
    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        unit: str,
        directory: Path,
        fmt: str,
        temp_suffix: str,
        project_uuid: str | None = None,
    ) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.unit = unit
        self.directory = directory
        self.fmt = fmt
        self.temp_suffix = temp_suffix
        self.project_uuid = project_uuid
        directory.mkdir(parents=True, exist_ok=True)

    def open(
        self,
        resource: str,
        *,
        scope_uuid: str | None = None,
        sample: list[dict[str, Any]] | None = None,
        file_resource: str | None = None,
    ) -> RecordWriter:
        """A writer for `resource`; `file_resource` names the file when it differs."""
        name = file_name(file_resource or resource, self.fmt, scope_uuid)
        return open_writer(
            self.directory,
            name,
            self.fmt,
            temp_suffix=self.temp_suffix,
            resource=resource,
            project_uuid=self.project_uuid,
            sample=sample,
        )

    def progress(self, resource: str, records: int) -> None:
        self.jobs.set_records(self.job_id, self.unit, resource, records)

    def commit(
        self, resource: str, writer: RecordWriter, *, progress_key: str | None = None
    ) -> FileEntry:
        written = writer.commit()
        entry = FileEntry(
            name=written.name,
            size=written.size,
            sha256=written.sha256,
            records=written.records,
            resource=resource,
            project_uuid=self.project_uuid,
        )
        self.jobs.add_file(self.job_id, entry)
        self.progress(progress_key or resource, written.records)
        EXPORT_RECORDS.labels(resource=resource).inc(written.records)
        return entry

    def write_all(
        self,
        resource: str,
        records: Iterable[dict[str, Any]],
        *,
        scope_uuid: str | None = None,
        file_resource: str | None = None,
        progress_key: str | None = None,
    ) -> FileEntry:
        """A small resource, written in one go (its CSV columns come from the records)."""
        items = list(records)
        with self.open(
            resource, scope_uuid=scope_uuid, sample=items, file_resource=file_resource
        ) as writer:
            for item in items:
                writer.write(item)
            return self.commit(resource, writer, progress_key=progress_key)
