"""Where a job's files live and what they are called: `$EXPORT_DIR/{job id}/{name}`.

Names are built here and nowhere else, so the API can refuse any name this module
would not produce (no `/`, no `..`, no hidden temporary file).
"""

from __future__ import annotations

import re
from pathlib import Path

FORMATS = ("ndjson", "json", "csv")
EXTENSIONS = {"ndjson": "ndjson", "json": "json", "csv": "csv"}
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
MANIFEST_NAME = "manifest.json"
# Names the API will serve: what file_name() produces and nothing else.
SAFE_NAME = re.compile(r"[a-z_]+(-[0-9a-f]{32})?\.(ndjson|json|csv)")
JOB_ID = re.compile(r"[0-9a-f]{32}")


def job_dir(export_dir: Path, job_id: str) -> Path:
    return export_dir / job_id


def file_name(resource: str, fmt: str, scope_uuid: str | None = None) -> str:
    """`issues-<project uuid, undashed>.csv`, `licenses.ndjson`, `members-<licence>.json`."""
    suffix = f"-{scope_uuid.replace('-', '').lower()}" if scope_uuid else ""
    return f"{resource}{suffix}.{EXTENSIONS[fmt]}"


def partial_name(name: str, owner: str) -> str:
    """The temporary name one owner writes `name` under until it is complete."""
    return f".{name}.{owner}.partial"


def partial_prefix(name: str) -> str:
    """What every temporary file of `name` starts with, whoever wrote it."""
    return f".{name}."


def servable(name: str) -> bool:
    return name == MANIFEST_NAME or SAFE_NAME.fullmatch(name) is not None


def file_scope(name: str) -> str | None:
    """The undashed uuid a file name carries (`issues-<uuid>.ndjson`), or None."""
    match = SAFE_NAME.fullmatch(name)
    scoped = match.group(1) if match else None
    return scoped[1:] if scoped else None


def media_type(name: str) -> str:
    """The Content-Type a file is served with."""
    return MEDIA_TYPES.get(name.rpartition(".")[2], "application/octet-stream")
