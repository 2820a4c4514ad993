"""Which writer each resource gets: its format, and for CSV its columns."""

from __future__ import annotations

from jobs.storage import Upload
from worker.csv_columns import COMMENT_COLUMNS, ISSUE_COLUMNS, Extractor, generic_columns
from worker.writers import CsvWriter, JsonArrayWriter, NdjsonWriter, RecordWriter


def open_writer(
    upload: Upload,
    fmt: str,
    *,
    resource: str,
    project_uuid: str | None = None,
    sample: list[dict[str, object]] | None = None,
) -> RecordWriter:
    """A writer for one file; `sample` gives the CSV columns of small, generic resources."""
    if fmt == "ndjson":
        return NdjsonWriter(upload)
    if fmt == "json":
        return JsonArrayWriter(upload)
    columns: list[tuple[str, Extractor]]
    if resource in ("issues", "deleted_issues"):
        columns = ISSUE_COLUMNS
    elif resource == "comments":
        columns = COMMENT_COLUMNS
    else:
        columns = generic_columns(sample or [])
    prefix = {"projectUuid": project_uuid} if project_uuid else None
    return CsvWriter(upload, columns=columns, prefix=prefix)
