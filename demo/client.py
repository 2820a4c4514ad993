"""Submit an export over HTTP and follow it, as an integrator's system would."""

from __future__ import annotations

import sys
import time
from typing import Any

import requests

FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


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
        """Print the job's progress and each project's, as they change, until it ends."""
        deadline = time.monotonic() + timeout
        shown: dict[str, str] = {}
        while time.monotonic() < deadline:
            job = self.job(job_id)
            for key, line in [("job", progress_line(job))] + [
                (p["project_uuid"], project_line(p)) for p in job["projects"]
            ]:
                if shown.get(key) != line:
                    print(f"  {line}", flush=True)
                    shown[key] = line
            if job["state"] in FINISHED:
                return job
            time.sleep(0.5)
        raise RuntimeError(f"job {job_id} did not finish within {timeout:.0f}s")


def progress_line(job: dict[str, Any]) -> str:
    progress = job["progress"]
    records = ", ".join(f"{k} {v}" for k, v in progress["records"].items()) or "starting"
    percent = f"{job['percent']:5.1f}%" if job["percent"] is not None else "    ?%"
    eta = f", about {job['eta_seconds']} s left" if job["eta_seconds"] is not None else ""
    return (
        f"job      {job['state']:<9} {percent} projects {progress['projects_done']}"
        f"/{progress['projects_total']} | {records}{eta}"
    )


def project_line(project: dict[str, Any]) -> str:
    records = project["records"]
    total = project["issues_total"]
    issues = f"issues {records.get('issues', 0)}" + (f"/{total}" if total is not None else "")
    extra = ""
    if project["state"] == "retrying" and project["last_error"]:
        extra = f" (retrying: {project['last_error']['message'][:60]})"
    elif project["state"] == "failed" and project["last_error"]:
        extra = f" ({project['last_error']['code']})"
    elif project["state"] == "skipped":
        extra = f" ({project['skip_reason']})"
    return (
        f"project  {project['state']:<9} {project['name'][:28]:<28} {issues}, "
        f"comments {records.get('comments', 0)}{extra}"
    )


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
