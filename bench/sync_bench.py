"""Database sync benchmarks (issue 9), each measured side by side with its baseline in the
same run, against the sandbox answering every request after 25 ms, 20 projects x 500
issues with comments, 4 worker processes:

1. database_sync: a full export into PostgreSQL versus the same export into NDJSON files
   (target: the database run takes at most 1.5x the files run).
2. incremental_sync: after that full database sync, 1 % of the issues touched, then an
   incremental sync versus the full one (target: at most 1/10 of its wall time).
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench.harness import redis_server, report, sandbox, workdir
from tests.support.databases import fresh_database
from tests.support.exporter import ExporterStack, exported_projects

LATENCY_MS = 25
PROJECTS = 20
ISSUES = 500
WORKERS = 4
DATABASE = {"type": "database", "name": "bench"}


def _timed(stack: ExporterStack, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = stack.wait_finished(stack.submit(body)["id"], timeout=3600)
    elapsed = time.perf_counter() - started
    assert done["state"] == "succeeded", done["error"]
    return elapsed, done


def database_sync() -> None:
    results: dict[str, Any] = {}
    with (
        workdir() as tmp,
        redis_server() as server,
        sandbox(tmp, projects=PROJECTS, issues_per_project=ISSUES, latency_ms=LATENCY_MS) as fake,
        fresh_database("postgresql", tmp) as url,
    ):
        runs = {"files": ({}, 1), "postgresql": ({"destination": DATABASE}, 2)}
        stacks: dict[str, ExporterStack] = {}
        try:
            for name, (body, db) in runs.items():
                run_dir = tmp / name
                run_dir.mkdir()
                stacks[name] = ExporterStack(
                    run_dir,
                    server.url(db),
                    fake,
                    workers=WORKERS,
                    worker_env={"EXPORT_DATABASES": json.dumps({"bench": url})},
                )
                seconds, done = _timed(stacks[name], {"mode": "incremental", **body})
                results[name] = {"seconds": seconds, "records": done["progress"]["records"]}
            _touch_one_percent(fake)
            seconds, done = _timed(
                stacks["postgresql"], {"mode": "incremental", "destination": DATABASE}
            )
            results["incremental"] = {"seconds": seconds, "records": done["progress"]["records"]}
        finally:
            for stack in stacks.values():
                stack.stop()
    files, database = results["files"]["seconds"], results["postgresql"]["seconds"]
    incremental = results["incremental"]["seconds"]
    rows = [
        (f"sandbox: {PROJECTS} projects x {ISSUES} issues, latency", f"{LATENCY_MS} ms/request"),
        (f"full export to NDJSON files, {WORKERS} workers", f"{files:.1f} s"),
        (
            f"full sync into PostgreSQL, {WORKERS} workers",
            f"{database:.1f} s = {database / files:.2f}x the files run (target <= 1.5x)",
        ),
        (
            "incremental sync after touching 1 % of the issues",
            f"{incremental:.1f} s = 1/{database / incremental:.0f} of the full sync "
            f"(target <= 1/10); {results['incremental']['records'].get('issues', 0)} issues",
        ),
    ]
    report("database_sync", rows, results)


def _touch_one_percent(fake: Any) -> None:
    per_project = ISSUES // 100
    for project in exported_projects(fake):
        fake.touch_issues(project["uuid"], list(range(1, per_project + 1)))
