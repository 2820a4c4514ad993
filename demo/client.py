"""Submit an export over HTTP and follow it, as an integrator's system would."""

from __future__ import annotations

import sys
import time
from typing import Any

import requests

FINISHED = ("succeeded", "failed", "cancelled")


class JobApiClient:
    def __init__(self, api_url: str, api_key: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.session.post(f"{self.api_url}/v1/exports", json=body, timeout=30)
        if reply.status_code != 202:
            raise RuntimeError(f"submit failed: HTTP {reply.status_code} {reply.text}")
        job: dict[str, Any] = reply.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        reply = self.session.get(f"{self.api_url}/v1/exports/{job_id}", timeout=30)
        reply.raise_for_status()
        job: dict[str, Any] = reply.json()
        return job

    def follow(self, job_id: str, timeout: float) -> dict[str, Any]:
        """Print progress until the job finishes; returns the final job."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            job = self.job(job_id)
            line = progress_line(job)
            if line != last:
                print(f"  {line}", flush=True)
                last = line
            if job["state"] in FINISHED:
                return job
            time.sleep(0.5)
        raise RuntimeError(f"job {job_id} did not finish within {timeout:.0f}s")


def progress_line(job: dict[str, Any]) -> str:
    progress = job["progress"]
    records = ", ".join(f"{k} {v}" for k, v in progress["records"].items()) or "starting"
    return (
        f"{job['state']:<9} projects {progress['projects_done']}/{progress['projects_total']}"
        f" | {records}"
    )


def print_summary(job: dict[str, Any], seconds: float, where: str | None) -> None:
    out = sys.stdout
    if job["state"] != "succeeded":
        error = job.get("error") or {}
        print(f"\nExport {job['state']}: {error.get('code')} — {error.get('message')}", file=out)
        return
    print(f"\nExport succeeded in {seconds:.1f} s (job {job['id']})", file=out)
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
