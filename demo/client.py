"""The demo's summary of a finished export (submitting and following it is the command-line
client's job: revizto_export)."""

from __future__ import annotations

import sys
from typing import Any


def print_summary(job: dict[str, Any], seconds: float, where: str | None) -> None:
    out = sys.stdout
    if job["state"] not in ("succeeded", "partially_succeeded"):
        error = job.get("error") or {}
        print(f"\nExport {job['state']}: {error.get('code')} — {error.get('message')}", file=out)
        return
    label = "succeeded" if job["state"] == "succeeded" else "partially succeeded"
    print(f"\nExport {label} in {seconds:.1f} s (job {job['id']})", file=out)
    if job["error"]:
        print(f"Not exported: {job['error']['message']}", file=out)
    print("Records per resource:", file=out)
    for resource, count in job["progress"]["records"].items():
        print(f"  {resource:<10} {count:>8}", file=out)
    print(f"Files ({len(job['files'])}, plus manifest.json):", file=out)
    for entry in job["files"]:
        print(
            f"  {entry['name']:<52} {entry['records']:>6} records {entry['size']:>10} bytes",
            file=out,
        )
    if job["skipped"]:
        print(
            "Skipped:",
            ", ".join(f"{s['kind']} {s['name']} ({s['reason']})" for s in job["skipped"]),
            file=out,
        )
    if where:
        print(f"\nThe files are in {where}", file=out)
