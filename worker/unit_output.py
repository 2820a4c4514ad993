"""UnitOutput: the files one unit of a job (the account part, or one project) writes.

Every file is written as an upload of the export storage (jobs/storage) that carries its
owner and becomes visible only when committed; committing records the file on the job
(name, size, sha256, records) and its record count. Counts are set, not added, per unit: a
redelivered unit overwrites its own numbers. Files a unit already committed (in an
earlier, interrupted delivery) are not written again, and the unfinished uploads of
earlier owners are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jobs.layout import file_name
from jobs.model import ACCOUNT_UNIT, FileEntry
from jobs.storage import ExportStorage, FileCheckpoint
from jobs.store import Write
from worker.metrics import EXPORT_RECORDS
from worker.outputs import open_writer
from worker.unit_run import UnitRun
from worker.writers import RecordWriter

log = logging.getLogger(__name__)

ACCOUNT_RESOURCES = ("licenses.", "projects.", "license_members-")


class UnitOutput:
    def __init__(
        self,
        run: UnitRun,
        storage: ExportStorage,
        fmt: str,
        *,
        committed: Iterable[FileEntry] = (),
        project_uuid: str | None = None,
    ) -> None:
        self.run = run
        self.storage = storage
        self.fmt = fmt
        self.project_uuid = project_uuid
        self._committed = {f.name for f in committed if f.unit == run.unit}

    # -- names -----------------------------------------------------------------------------------

    def name(
        self, resource: str, *, scope_uuid: str | None = None, file_resource: str | None = None
    ) -> str:
        return file_name(file_resource or resource, self.fmt, scope_uuid)

    def done(self, name: str) -> bool:
        """Committed by an earlier delivery of this unit, and still stored."""
        return name in self._committed and self.storage.exists(self.run.job_id, name)

    def _owns(self, name: str) -> bool:
        if self.run.unit == ACCOUNT_UNIT:
            return name.startswith(ACCOUNT_RESOURCES)
        return self.project_uuid is not None and (
            f"-{self.project_uuid.replace('-', '').lower()}." in name
        )

    def sweep_partials(self) -> int:
        """Remove the unfinished files earlier owners of this unit left behind (a killed
        worker). Called once any checkpoint they held has been copied, or given up."""
        removed = self.storage.sweep_partials(
            self.run.job_id, owner=self.run.owner, owns=self._owns
        )
        if removed:
            log.info(
                "temporary files of an earlier attempt removed job=%s unit=%s count=%d",
                self.run.job_id,
                self.run.unit,
                removed,
            )
        return removed

    # -- writing ---------------------------------------------------------------------------------

    def open(
        self,
        resource: str,
        *,
        scope_uuid: str | None = None,
        sample: list[dict[str, Any]] | None = None,
        file_resource: str | None = None,
        resume: FileCheckpoint | None = None,
    ) -> RecordWriter:
        """A writer for `resource`; `file_resource` names the file when it differs.
        ResumeImpossible when `resume` cannot be continued."""
        upload = self.storage.upload(
            self.run.job_id,
            self.name(resource, scope_uuid=scope_uuid, file_resource=file_resource),
            owner=self.run.owner,
            resume=resume,
        )
        return open_writer(
            upload, self.fmt, resource=resource, project_uuid=self.project_uuid, sample=sample
        )

    def commit(
        self,
        writers: list[tuple[str, RecordWriter, str | None]],
        extra: Iterable[Write] = (),
    ) -> list[FileEntry]:
        """Publish each (resource, writer, progress key), then record them all in one
        owner-guarded write (with `extra`)."""
        self.run.check(force=True)  # nothing is published for a unit that is no longer ours
        entries = []
        writes = list(extra)
        for resource, writer, progress_key in writers:
            written = writer.commit()
            entry = FileEntry(
                name=written.name,
                size=written.size,
                sha256=written.sha256,
                records=written.records,
                resource=resource,
                unit=self.run.unit,
                project_uuid=self.project_uuid,
            )
            entries.append(entry)
            writes.append(Write.file(entry))
            writes.append(Write.records(self.run.unit, progress_key or resource, written.records))
        self.run.write(writes)
        for entry in entries:
            self._committed.add(entry.name)
            EXPORT_RECORDS.labels(resource=entry.resource).inc(entry.records)
        return entries

    def write_all(
        self,
        resource: str,
        records: Iterable[dict[str, Any]],
        *,
        scope_uuid: str | None = None,
        file_resource: str | None = None,
        progress_key: str | None = None,
    ) -> None:
        """A small resource, written in one go (its CSV columns come from the records)."""
        items = list(records)
        with self.open(
            resource, scope_uuid=scope_uuid, sample=items, file_resource=file_resource
        ) as writer:
            for item in items:
                writer.write(item)
            self.commit([(resource, writer, progress_key)])
