"""Job benchmarks (issue 8: jobs an operator can leave running overnight).

1. Listing: 5,000 jobs in Redis, `GET /v1/exports?state=running&limit=1` over HTTP,
   against the baseline in the same run: the first version's listing, which walked the
   index of all jobs and read each one to filter by state.
2. Stall recovery: a worker killed with SIGKILL mid-export (its main process and pool)
   and a new one started; the time from the kill until the job finished, next to the
   same job's wall time without a kill, and the stall timeout.
3. Error rates: the default sandbox data exported with the sandbox failing 0 %, 10 %,
   30 % and 50 % of data requests; each run's outcome and wall time as a ratio of 0 %.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

from bench.harness import Latencies, redis_server, report, sandbox, workdir
from jobs.model import ACCOUNT_UNIT, ProjectRef
from jobs.states import JobState
from jobs.store import JobStore
from tests.support.exporter import ExporterStack, wait_for_progress
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess

JOBS = 5_000
RUNNING = 20  # the oldest jobs, so a scan must walk every other job to find them
REQUESTS = 200
STALL_SECONDS = 20
ERROR_RATES = (0.0, 0.1, 0.3, 0.5)


def _fill(jobs: JobStore, count: int, running: int) -> None:
    """`count` finished or running jobs of three projects each, oldest first."""
    now = time.time() - count
    projects = [ProjectRef(f"p{n}", n, f"Project {n}", "lic") for n in range(3)]
    for index in range(count):
        job_id = f"{index:032x}"
        jobs.create(job_id, {"format": "ndjson", "resources": ["issues"]}, now=now + index)
        jobs.claim(job_id, ACCOUNT_UNIT, owner="bench", host="h", pid=1, stall_seconds=60)
        jobs.plan(job_id, projects, [])
        if index >= running:
            jobs.stop(job_id, JobState.CANCELLED, now=now + index + 0.5)


def _first_version_listing(client: redis.Redis, state: str, limit: int) -> list[str]:
    """What the first version did: walk every job newest first, read it, keep matches."""
    found: list[str] = []
    for job_id in client.zrevrange("rxp:jobs", 0, -1):
        record = client.hgetall(f"rxp:job:{job_id}")
        client.hgetall(f"rxp:job:{job_id}:units")
        client.hgetall(f"rxp:job:{job_id}:records")
        client.hgetall(f"rxp:job:{job_id}:files")
        if record.get("state") == state:
            found.append(job_id)
            if len(found) == limit:
                break
    return found


def listing() -> None:
    with workdir() as tmp, redis_server() as server:
        client = redis.Redis.from_url(server.url(), decode_responses=True)
        _fill(JobStore(client), JOBS, RUNNING)
        port = free_port()
        api = ManagedProcess(
            "api",
            [sys.executable, "-m", "api"],
            tmp,
            env={
                "REDIS_URL": server.url(),
                "EXPORTER_API_KEYS": "bench-key-0123456789",
                "API_BIND": f"127.0.0.1:{port}",
                "EXPORT_DIR": str(tmp / "exports"),
            },
        )
        try:
            api.wait_http_ok(f"http://127.0.0.1:{port}/readyz")
            session = requests.Session()
            session.headers["Authorization"] = "Bearer bench-key-0123456789"
            url = f"http://127.0.0.1:{port}/v1/exports"
            timings = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                reply = session.get(url, params={"state": "running", "limit": 1}, timeout=30)
                timings.append(time.perf_counter() - started)
                assert reply.status_code == 200, reply.text
                assert [j["state"] for j in reply.json()["jobs"]] == ["running"]
            baseline = []
            for _ in range(10):
                started = time.perf_counter()
                assert len(_first_version_listing(client, "running", 1)) == 1
                baseline.append(time.perf_counter() - started)
        finally:
            api.stop()
    service, scan = Latencies(timings), Latencies(baseline)
    results = {
        "jobs": JOBS,
        "http_p50_ms": service.p50 * 1000,
        "http_p99_ms": service.p99 * 1000,
        "first_version_scan_p50_ms": scan.p50 * 1000,
    }
    report(
        "job_listing",
        [
            ("jobs in Redis", f"{JOBS:,} (the {RUNNING} running ones are the oldest)"),
            (
                "GET /v1/exports?state=running&limit=1",
                f"p50 {service.p50 * 1000:.1f} ms, p99 {service.p99 * 1000:.1f} ms over HTTP",
            ),
            (
                "first version's scan (Redis reads only)",
                f"p50 {scan.p50 * 1000:.0f} ms -> {scan.p50 / service.p50:.0f}x slower",
            ),
        ],
        results,
    )


def _stack(tmp: Path, redis_url: str, fake: Any, **options: Any) -> ExporterStack:
    return ExporterStack(tmp, redis_url, fake, **options)


def stall_recovery() -> None:
    body = {"resources": ["issues", "comments"]}
    env = {"EXPORT_STALL_SECONDS": str(STALL_SECONDS)}
    with (
        workdir() as tmp,
        redis_server() as server,
        sandbox(tmp, projects=2, issues_per_project=400, latency_ms=10) as fake,
    ):
        (tmp / "clean").mkdir()
        clean_stack = _stack(tmp / "clean", server.url(1), fake, workers=1, worker_env=env)
        started = time.perf_counter()
        clean = clean_stack.wait_finished(clean_stack.submit(body)["id"], timeout=600)
        clean_seconds = time.perf_counter() - started
        clean_stack.stop()
        assert clean["state"] == "succeeded", clean

        (tmp / "killed").mkdir()
        stack = _stack(tmp / "killed", server.url(2), fake, workers=1, worker_env=env)
        started = time.perf_counter()
        job = stack.submit(body)
        wait_for_progress(stack, job["id"], "comments", 300)
        os.killpg(stack.workers[0].process.pid, signal.SIGKILL)
        killed = time.perf_counter()
        stack.add_worker("after-crash")
        done = stack.wait_finished(job["id"], timeout=600)
        finished = time.perf_counter()
        stack.stop()
        assert done["state"] == "succeeded", done
        assert done["progress"]["records"] == clean["progress"]["records"]
    results = {
        "stall_seconds": STALL_SECONDS,
        "clean_seconds": clean_seconds,
        "killed_at_seconds": killed - started,
        "kill_to_finished_seconds": finished - killed,
        "total_seconds": finished - started,
    }
    report(
        "stall_recovery",
        [
            ("EXPORT_STALL_SECONDS", str(STALL_SECONDS)),
            ("same job, no kill", f"{clean_seconds:.1f} s"),
            (
                "worker killed -> job finished",
                f"{finished - killed:.1f} s = {(finished - killed) / STALL_SECONDS:.2f}x the "
                "stall timeout",
            ),
            (
                "whole job with the kill",
                f"{finished - started:.1f} s = {(finished - started) / clean_seconds:.2f}x "
                "the job without",
            ),
        ],
        results,
    )


def error_rates() -> None:
    results: dict[str, Any] = {}
    with workdir() as tmp, redis_server() as server:
        for index, rate in enumerate(ERROR_RATES):
            with sandbox(tmp, name=f"sandbox-{index}", error_rate=rate) as fake:
                run_dir = tmp / f"rate-{rate}"
                run_dir.mkdir()
                stack = _stack(run_dir, server.url(index + 1), fake, workers=2)
                started = time.perf_counter()
                done = stack.wait_finished(stack.submit()["id"], timeout=1800)
                elapsed = time.perf_counter() - started
                stats = fake.stats()
                stack.stop()
            results[str(rate)] = {
                "state": done["state"],
                "seconds": elapsed,
                "records": sum(done["progress"]["records"].values()),
                "requests": stats["data_requests"],
                "failed_requests": stats["responses_5xx"],
            }
    baseline = results["0.0"]["seconds"]
    rows = [
        (
            f"error_rate {float(rate):.0%}",
            f"{r['state']}, {r['records']} records, {r['seconds']:.1f} s = "
            f"{r['seconds'] / baseline:.2f}x ({r['failed_requests']} of {r['requests']} "
            "requests failed)",
        )
        for rate, r in results.items()
    ]
    report("export_error_rates", rows, results)
