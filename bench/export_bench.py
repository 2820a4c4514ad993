"""Export benchmarks (issue 4).

1. Speed: a sandbox answering every request after 25 ms, 20 projects x 500 issues with
   comments. Wall time of the service with 1 and with 4 worker processes, side by side in
   the same run with the naive sequential exporter (bench/naive_exporter.py); and the
   token service's calls per 1,000 Revizto requests (issue 13: at most 2).
2. Memory: peak RSS (VmHWM) of the worker process that exports one project of 10,000 and
   of 100,000 issues: streaming writers keep it flat. `export_memory` writes to disk,
   `export_memory_s3` to object storage (a moto_server, 8 MiB multipart parts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import redis_server, report, sandbox, token_service_calls, workdir
from bench.naive_exporter import NaiveExporter
from tests.support.exporter import ExporterStack
from tests.support.moto_server import MotoServer

LATENCY_MS = 25
PROJECTS = 20
ISSUES = 500
WORKER_COUNTS = (1, 4)
MEMORY_SIZES = (10_000, 100_000)


def _service_export(
    tmp: Path,
    redis_url: str,
    fake: Any,
    workers: int,
    body: dict[str, Any],
    worker_env: dict[str, str] | None = None,
) -> tuple[float, dict[str, Any], ExporterStack]:
    stack = ExporterStack(tmp, redis_url, fake, workers=workers, worker_env=worker_env)
    started = time.perf_counter()
    job = stack.submit(body)
    done = stack.wait_finished(job["id"], timeout=3600)
    elapsed = time.perf_counter() - started
    assert done["state"] == "succeeded", done["error"]
    return elapsed, done, stack


def speed() -> None:
    results: dict[str, Any] = {}
    with (
        workdir() as tmp,
        redis_server() as server,
        sandbox(tmp, projects=PROJECTS, issues_per_project=ISSUES, latency_ms=LATENCY_MS) as fake,
    ):
        started = time.perf_counter()
        records = NaiveExporter(fake.base_url, fake.access_token(), tmp / "naive").run()
        results["naive"] = {"seconds": time.perf_counter() - started, "records": records}
        for index, workers in enumerate(WORKER_COUNTS):
            run_dir = tmp / f"service-{workers}"
            run_dir.mkdir()
            fake.reset_stats()
            elapsed, done, stack = _service_export(
                run_dir, server.url(index + 1), fake, workers, {}
            )
            # Issue 13: what the workers' token cache leaves for the token service.
            token_calls = token_service_calls(stack.token_service)
            requests_sent = fake.stats()["data_requests"]
            stack.stop()
            results[f"workers_{workers}"] = {
                "seconds": elapsed,
                "records": sum(done["progress"]["records"].values()),
                "revizto_requests": requests_sent,
                "token_service_calls": token_calls,
                "token_calls_per_1000_requests": 1000 * token_calls / max(1, requests_sent),
            }
    baseline = results["naive"]["seconds"]
    rows = [
        (f"sandbox: {PROJECTS} projects x {ISSUES} issues, latency", f"{LATENCY_MS} ms/request"),
        ("naive sequential exporter", f"{baseline:.1f} s ({results['naive']['records']} records)"),
    ]
    for workers in WORKER_COUNTS:
        run = results[f"workers_{workers}"]
        rows.append(
            (
                f"service, {workers} worker process(es)",
                f"{run['seconds']:.1f} s ({run['records']} records), "
                f"{baseline / run['seconds']:.1f}x faster; token service "
                f"{run['token_calls_per_1000_requests']:.2f} calls / 1,000 Revizto requests",
            )
        )
    report("export_speed", rows, results)


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("VmHWM not found")


def memory() -> None:
    _memory("export_memory", dict)


def memory_s3() -> None:
    moto = MotoServer()
    try:
        _memory("export_memory_s3", lambda: moto.env(moto.new_bucket()))
    finally:
        moto.stop()


def _memory(name: str, storage_env: Callable[[], dict[str, str]]) -> None:
    results: dict[str, Any] = {}
    for size in MEMORY_SIZES:
        with (
            workdir() as tmp,
            redis_server() as server,
            sandbox(tmp, projects=1, issues_per_project=size, comments_per_issue=0) as fake,
        ):
            elapsed, done, stack = _service_export(
                tmp, server.url(), fake, 1, {"resources": ["issues"]}, storage_env()
            )
            (child,) = stack.workers[0].pool_pids()
            peak = _peak_rss_kib(child)
            stack.stop()
            issues_file = next(f for f in done["files"] if f["resource"] == "issues")
            results[str(size)] = {
                "peak_rss_mib": peak / 1024,
                "seconds": elapsed,
                "file_mib": issues_file["size"] / 2**20,
            }
    rows = [
        (
            f"{size:,} issues",
            f"worker peak RSS {r['peak_rss_mib']:.0f} MiB, "
            f"file {r['file_mib']:.0f} MiB, {r['seconds']:.0f} s",
        )
        for size, r in ((int(k), v) for k, v in results.items())
    ]
    report(name, rows, results)
