"""manifest.json: written last, when every unit of a job is done; its presence is what
makes an export directory complete."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from worker.outputs import MANIFEST_NAME

MANIFEST_VERSION = 1


def build_manifest(
    job: dict[str, Any], watermarks: dict[str, str], finished_at: float
) -> dict[str, Any]:
    files = [{k: v for k, v in f.items() if k != "complete"} for f in job["files"]]
    return {
        "manifest_version": MANIFEST_VERSION,
        "job_id": job["id"],
        "state": "succeeded",
        "created_at": job["created_at"],
        "started_at": job["started_at"],
        "finished_at": finished_at,
        "request": job["request"],
        "records": job["progress"]["records"],
        "files": files,
        "skipped": job["skipped"],
        # Pass a project's value as `updated_since` next time for an incremental export.
        "watermarks": dict(sorted(watermarks.items())),
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / MANIFEST_NAME
    temp = directory / f".{MANIFEST_NAME}.{os.getpid()}.{time.monotonic_ns()}.partial"
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    return final
