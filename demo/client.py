"""The demo's summaries of a finished export and of a database sync (submitting and
following them is the command-line client's job: revizto_export)."""

from __future__ import annotations

import shlex
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
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


def print_database(job: dict[str, Any], database: Path) -> None:
    """What a reporting user would find in the synced SQLite database."""
    if job["state"] != "succeeded":
        error = job.get("error") or {}
        print(f"\nSync {job['state']}: {error.get('code')} — {error.get('message')}")
        return
    with closing(sqlite3.connect(database)) as connection:
        issues = connection.execute("SELECT COUNT(*) FROM revizto_issues_view").fetchone()[0]
        comments = connection.execute("SELECT COUNT(*) FROM revizto_comments").fetchone()[0]
        projects = connection.execute("SELECT COUNT(*) FROM revizto_projects").fetchone()[0]
    print(f"\nSync succeeded: {database}")
    print(f"  revizto_issues_view: {issues} issues; {comments} comments; {projects} projects")
    query = shlex.quote("SELECT * FROM revizto_issues_view LIMIT 5")
    print(f"  try: sqlite3 {shlex.quote(str(database))} {query}")
