"""Streaming export writers: one record at a time into an Upload of the export storage
(jobs/storage), which publishes the file under its name only on commit.

A writer never holds more than one record (and the storage at most one upload part), so
memory stays flat whatever the project size; the upload hashes and counts as it goes, so
the manifest costs no second pass. Until `commit()` no reader can take the data for a
finished file; `discard()` (or leaving the `with` block on an error) drops it.

A writer can also continue from a checkpoint when its storage can resume the upload
(`upload.resumed`): the prefix is then already written, header included.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jobs.storage import FileCheckpoint, Upload
from worker.csv_columns import Extractor, cell

# Excel reads UTF-8 CSV correctly only with a byte-order mark; Python reads it with
# encoding="utf-8-sig".
CSV_BOM = "\ufeff".encode()


@dataclass(frozen=True)
class WrittenFile:
    name: str
    size: int
    sha256: str
    records: int


class RecordWriter:
    """Base: records into an upload, checkpoints, atomic commit."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.name = upload.name
        self.records = 0
        self.resumed = upload.resumed is not None
        self._closed = False
        if upload.resumed is None:
            self._header()
        else:
            self.records = upload.resumed.records

    def _header(self) -> None:
        """Write what opens the format (CSV's byte-order mark and header row)."""

    def checkpoint(self) -> FileCheckpoint:
        """Everything written so far, as durable as the storage keeps partial files."""
        return self.upload.checkpoint(self.records)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._closed:
            self.discard()

    def write(self, record: Any) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Write whatever closes the format (a JSON array's bracket)."""

    def commit(self) -> WrittenFile:
        """Close the format and publish the file; it is complete from this moment."""
        self._finish()
        self.upload.commit()
        self._closed = True
        return WrittenFile(self.name, self.upload.size, self.upload.sha256, self.records)

    def discard(self) -> None:
        self.upload.discard()
        self._closed = True


def _json_line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


class NdjsonWriter(RecordWriter):
    def write(self, record: Any) -> None:
        self.upload.write(_json_line(record) + b"\n")
        self.records += 1


class JsonArrayWriter(RecordWriter):
    """A JSON array written element by element."""

    def write(self, record: Any) -> None:
        self.upload.write((b"[\n" if self.records == 0 else b",\n") + _json_line(record))
        self.records += 1

    def _finish(self) -> None:
        self.upload.write(b"[]\n" if self.records == 0 else b"\n]\n")


class CsvWriter(RecordWriter):
    """RFC 4180 CSV (CRLF, minimal quoting) with a header row and fixed columns."""

    def __init__(
        self,
        upload: Upload,
        *,
        columns: list[tuple[str, Extractor]],
        prefix: dict[str, str] | None = None,
    ) -> None:
        # Set before the base class starts the file: it writes the header with them.
        self._columns = columns
        self._prefix = prefix or {}
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        super().__init__(upload)

    def _header(self) -> None:
        self.upload.write(CSV_BOM)
        self._emit([*self._prefix, *(name for name, _ in self._columns)])

    def _emit(self, row: list[str]) -> None:
        self._csv.writerow(row)
        self.upload.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, record: Any) -> None:
        values = [*self._prefix.values(), *(cell(extract(record)) for _, extract in self._columns)]
        self._emit(values)
        self.records += 1
