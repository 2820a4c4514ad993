"""Following a job until it ends: a progress bar per project on a terminal, and plain
lines (one whenever something changes) anywhere else, such as a log file or a pipe."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from revizto_export.client import FINISHED

POLL_SECONDS = 1.0


def job_line(job: dict[str, Any]) -> str:
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


def follow_lines(
    fetch: Callable[[], dict[str, Any]], emit: Callable[[str], None], timeout: float
) -> dict[str, Any]:
    """Print the job's line and each project's whenever they change; the final job."""
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    while True:
        job = fetch()
        lines = [("job", job_line(job))]
        lines += [(p["project_uuid"], project_line(p)) for p in job["projects"]]
        for key, line in lines:
            if shown.get(key) != line:
                emit(line)
                shown[key] = line
        if job["state"] in FINISHED:
            return job
        if time.monotonic() >= deadline:
            raise TimeoutError(f"job {job['id']} did not finish within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def follow_bars(
    fetch: Callable[[], dict[str, Any]], console: Console, timeout: float
) -> dict[str, Any]:
    """The same, as progress bars: the job's percent with its ETA, and one per project."""
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[state]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:
        overall = bars.add_task("job", total=100.0, state="queued")
        per_project: dict[str, TaskID] = {}
        while True:
            job = fetch()
            bars.update(overall, completed=job["percent"] or 0.0, state=job["state"])
            for project in job["projects"]:
                task = per_project.get(project["project_uuid"])
                if task is None:
                    task = bars.add_task(f"  {project['name'][:30]}", total=None, state="")
                    per_project[project["project_uuid"]] = task
                total = project["issues_total"]
                done = project["state"] in ("succeeded", "skipped")
                bars.update(
                    task,
                    total=total if total else (1 if done else None),
                    completed=(total or 1) if done else project["records"].get("issues", 0),
                    state=project["state"],
                )
            if job["state"] in FINISHED:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job['id']} did not finish within {timeout:.0f}s")
            time.sleep(POLL_SECONDS)
