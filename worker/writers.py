"""Streaming export writers: one record at a time to a temporary file, renamed when done.

A writer never holds more than one record, so memory stays flat whatever the project
size; it hashes and counts as it writes, so the manifest costs no second pass. Until
`commit()`, the data lives under a temporary name that no reader will take for a
finished file; `discard()` (or leaving the `with` block on an error) removes it.

A writer can also be resumed from a checkpoint (the temporary file of an earlier owner
and how many of its bytes and records were known good): it copies that prefix into its
own temporary file, hashing it on the way, and goes on from there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from jobs.files import create_file
from jobs.layout import partial_name
from worker.csv_columns import Extractor, cell

COPY_CHUNK = 1 << 20
# Excel reads UTF-8 CSV correctly only with a byte-order mark; Python reads it with
# encoding="utf-8-sig".
CSV_BOM = "\ufeff".encode()


@dataclass(frozen=True)
class FileCheckpoint:
    """A known-good prefix of a temporary file: enough to resume writing it."""

    temp_name: str
    offset: int
    records: int

    def to_json(self) -> dict[str, object]:
        return {"temp_name": self.temp_name, "offset": self.offset, "records": self.records}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileCheckpoint:
        return cls(str(data["temp_name"]), int(str(data["offset"])), int(str(data["records"])))


class ResumeImpossible(Exception):
    """The checkpointed temporary file is gone or shorter than recorded: start over."""


@dataclass(frozen=True)
class WrittenFile:
    name: str
    size: int
    sha256: str
    records: int


class _HashingFile:
    """Binary sink that counts and hashes every byte on its way to disk."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.digest.update(data)
        self.size += len(data)


class RecordWriter:
    """Base: temporary file, byte accounting, checkpoints, atomic commit."""

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        temp_suffix: str,
        resume: FileCheckpoint | None = None,
    ) -> None:
        self.name = name
        self.final_path = directory / name
        self.temp_path = directory / partial_name(name, temp_suffix)
        self.records = 0
        self.resumed = False
        self._closed = False
        source = None
        if resume is not None:
            try:
                source = (directory / resume.temp_name).open("rb")
            except FileNotFoundError:
                raise ResumeImpossible(f"{resume.temp_name} is gone") from None
        self._handle = create_file(self.temp_path)
        self._sink = _HashingFile(self._handle)
        if source is None or resume is None:
            self._header()
            return
        with source:
            left = resume.offset
            while left > 0:
                chunk = source.read(min(COPY_CHUNK, left))
                if not chunk:
                    self.discard()
                    raise ResumeImpossible(f"{resume.temp_name} is shorter than its checkpoint")
                self._sink.write(chunk)
                left -= len(chunk)
        self.records = resume.records
        self.resumed = True

    def _header(self) -> None:
        """Write what opens the format (CSV's byte-order mark and header row)."""

    def checkpoint(self) -> FileCheckpoint:
        """Everything written so far, flushed to the operating system."""
        self._handle.flush()
        return FileCheckpoint(self.temp_path.name, self._sink.size, self.records)

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
        """Flush, fsync and rename into place; the file is complete from this moment."""
        self._finish()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.temp_path, self.final_path)
        self._closed = True
        return WrittenFile(self.name, self._sink.size, self._sink.digest.hexdigest(), self.records)

    def discard(self) -> None:
        self._handle.close()
        self.temp_path.unlink(missing_ok=True)
        self._closed = True


def _json_line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


class NdjsonWriter(RecordWriter):
    def write(self, record: Any) -> None:
        self._sink.write(_json_line(record) + b"\n")
        self.records += 1


class JsonArrayWriter(RecordWriter):
    """A JSON array written element by element."""

    def write(self, record: Any) -> None:
        self._sink.write((b"[\n" if self.records == 0 else b",\n") + _json_line(record))
        self.records += 1

    def _finish(self) -> None:
        self._sink.write(b"[]\n" if self.records == 0 else b"\n]\n")


class CsvWriter(RecordWriter):
    """RFC 4180 CSV (CRLF, minimal quoting) with a header row and fixed columns."""

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        temp_suffix: str,
        columns: list[tuple[str, Extractor]],
        prefix: dict[str, str] | None = None,
        resume: FileCheckpoint | None = None,
    ) -> None:
        # Set before the base class starts the file: it writes the header with them.
        self._columns = columns
        self._prefix = prefix or {}
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        super().__init__(directory, name, temp_suffix=temp_suffix, resume=resume)

    def _header(self) -> None:
        self._sink.write(CSV_BOM)
        self._emit([*self._prefix, *(name for name, _ in self._columns)])

    def _emit(self, row: list[str]) -> None:
        self._csv.writerow(row)
        self._sink.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, record: Any) -> None:
        values = [*self._prefix.values(), *(cell(extract(record)) for _, extract in self._columns)]
        self._emit(values)
        self.records += 1
