"""Where each resource's records go: file names inside `$EXPORT_DIR/{job_id}/` and writers."""

from __future__ import annotations

import re
from pathlib import Path

from worker.csv_columns import COMMENT_COLUMNS, ISSUE_COLUMNS, Extractor, generic_columns
from worker.writers import EXTENSIONS, CsvWriter, JsonArrayWriter, NdjsonWriter, RecordWriter

MANIFEST_NAME = "manifest.json"
# Names the API will serve: what this module produces and nothing else (no `/`, no `..`).
SAFE_NAME = re.compile(r"[a-z_]+(-[0-9a-f]{32})?\.(ndjson|json|csv)")


def job_dir(export_dir: Path, job_id: str) -> Path:
    return export_dir / job_id


def file_name(resource: str, fmt: str, scope_uuid: str | None = None) -> str:
    """`issues-<project uuid, undashed>.csv`, `licenses.ndjson`, `members-<licence>.json`."""
    suffix = f"-{scope_uuid.replace('-', '').lower()}" if scope_uuid else ""
    return f"{resource}{suffix}.{EXTENSIONS[fmt]}"


def open_writer(
    directory: Path,
    name: str,
    fmt: str,
    *,
    temp_suffix: str,
    resource: str,
    project_uuid: str | None = None,
    sample: list[dict[str, object]] | None = None,
) -> RecordWriter:
    """A writer for one file; `sample` gives the CSV columns of small, generic resources."""
    if fmt == "ndjson":
        return NdjsonWriter(directory, name, temp_suffix=temp_suffix)
    if fmt == "json":
        return JsonArrayWriter(directory, name, temp_suffix=temp_suffix)
    columns: list[tuple[str, Extractor]]
    if resource == "issues":
        columns = ISSUE_COLUMNS
    elif resource == "comments":
        columns = COMMENT_COLUMNS
    else:
        columns = generic_columns(sample or [])
    prefix = {"projectUuid": project_uuid} if project_uuid else None
    return CsvWriter(directory, name, temp_suffix=temp_suffix, columns=columns, prefix=prefix)
