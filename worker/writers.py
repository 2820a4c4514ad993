"""Streaming export writers: one record at a time to a temporary file, renamed when done.

A writer never holds more than one record, so memory stays flat whatever the project
size; it hashes and counts as it writes, so the manifest costs no second pass. Until
`commit()`, the data lives under a temporary name that no reader will take for a
finished file; `discard()` (or leaving the `with` block on an error) removes it.
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

from worker.csv_columns import Extractor, cell

FORMATS = ("ndjson", "json", "csv")
EXTENSIONS = {"ndjson": "ndjson", "json": "json", "csv": "csv"}
# Excel reads UTF-8 CSV correctly only with a byte-order mark; Python reads it with
# encoding="utf-8-sig".
CSV_BOM = "\ufeff".encode()


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
    """Base: temporary file, byte accounting, atomic commit."""

    def __init__(self, directory: Path, name: str, *, temp_suffix: str) -> None:
        self.name = name
        self.final_path = directory / name
        self.temp_path = directory / f".{name}.{temp_suffix}.partial"
        self._handle = self.temp_path.open("wb")
        self._sink = _HashingFile(self._handle)
        self.records = 0
        self._closed = False

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
    ) -> None:
        super().__init__(directory, name, temp_suffix=temp_suffix)
        self._columns = columns
        self._prefix = prefix or {}
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self._sink.write(CSV_BOM)
        self._emit([*self._prefix, *(name for name, _ in columns)])

    def _emit(self, row: list[str]) -> None:
        self._csv.writerow(row)
        self._sink.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, record: Any) -> None:
        values = [*self._prefix.values(), *(cell(extract(record)) for _, extract in self._columns)]
        self._emit(values)
        self.records += 1
