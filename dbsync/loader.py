"""Load a unit's committed NDJSON files into the database: batches of rows, each batch
upserted in its own transaction, so a killed worker leaves no half batch and the unit's
redelivery rewrites the same rows instead of duplicating them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import Engine, String, Table

from dbsync.resources import ORDER, TARGETS
from dbsync.rows import Row, RowBuilder
from dbsync.upsert import upsert

log = logging.getLogger(__name__)

T = TypeVar("T")
# Runs an operation, retrying it while the database is unavailable (the worker's policy).
Retry = Callable[[Callable[[], None]], None]
BATCH_ROWS = 500


@dataclass(frozen=True)
class ExportedFile:
    resource: str  # as in the file entry: issues, deleted_issues, license_members, ...
    # Opens the file for reading, wherever the export storage keeps it; the loader closes it.
    open: Callable[[], BinaryIO]
    scope_uuid: str | None  # the project, or the licence of licence members


class DatabaseLoader:
    def __init__(
        self, engine: Engine, builder: RowBuilder, retry: Retry, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.engine = engine
        self.builder = builder
        self.retry = retry
        self.batch_rows = batch_rows

    def load(self, files: Iterable[ExportedFile]) -> dict[str, int]:
        """Rows written per resource; files of resources without a table are left alone."""
        loaded: dict[str, int] = {}
        wanted = [f for f in files if f.resource in TARGETS]
        for file in sorted(wanted, key=lambda f: ORDER.index(f.resource)):
            loaded[file.resource] = loaded.get(file.resource, 0) + self._load_file(file)
        return loaded

    def _load_file(self, file: ExportedFile) -> int:
        target = TARGETS[file.resource]
        written = 0
        batch: list[Row] = []
        with file.open() as raw, io.TextIOWrapper(raw, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record: dict[str, Any] = json.loads(line)
                batch.append(target.to_row(self.builder, record, file.scope_uuid))
                if len(batch) >= self.batch_rows:
                    written += self._commit(target.table, batch)
                    batch = []
        if batch:
            written += self._commit(target.table, batch)
        return written

    def _commit(self, table: Table, rows: list[Row]) -> int:
        # One key once per statement (PostgreSQL refuses to touch a row twice in one).
        keys = [column.name for column in table.primary_key.columns]
        unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
        _fit_lengths(table, unique)

        def write() -> None:
            with self.engine.begin() as connection:
                upsert(connection, table, unique)

        self.retry(write)
        return len(unique)


def _fit_lengths(table: Table, rows: list[Row]) -> None:
    """Cut typed text to its column's length (`raw` keeps the whole value): a long value
    must not fail a batch."""
    limits = {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }
    for row in rows:
        for name, limit in limits.items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                row[name] = value[:limit]
