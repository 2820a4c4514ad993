"""Export benchmarks (issue 4).

1. Speed: a sandbox answering every request after 25 ms, 20 projects x 500 issues with
   comments. Wall time of the service with 1 and with 4 worker processes, side by side in
   the same run with the naive sequential exporter (bench/naive_exporter.py).
2. Memory: peak RSS (VmHWM) of the worker process that exports one project of 10,000 and
   of 100,000 issues: streaming writers keep it flat.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.harness import redis_server, report, sandbox, workdir
from bench.naive_exporter import NaiveExporter
from tests.support.exporter import ExporterStack

LATENCY_MS = 25
PROJECTS = 20
ISSUES = 500
WORKER_COUNTS = (1, 4)
MEMORY_SIZES = (10_000, 100_000)


def _service_export(
    tmp: Path, redis_url: str, fake: Any, workers: int, body: dict[str, Any]
) -> tuple[float, dict[str, Any], ExporterStack]:
    stack = ExporterStack(tmp, redis_url, fake, workers=workers)
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
            elapsed, done, stack = _service_export(
                run_dir, server.url(index + 1), fake, workers, {}
            )
            stack.stop()
            results[f"workers_{workers}"] = {
                "seconds": elapsed,
                "records": sum(done["progress"]["records"].values()),
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
                f"{baseline / run['seconds']:.1f}x faster",
            )
        )
    report("export_speed", rows, results)


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("VmHWM not found")


def memory() -> None:
    results: dict[str, Any] = {}
    for size in MEMORY_SIZES:
        with (
            workdir() as tmp,
            redis_server() as server,
            sandbox(tmp, projects=1, issues_per_project=size, comments_per_issue=0) as fake,
        ):
            elapsed, done, stack = _service_export(
                tmp, server.url(), fake, 1, {"resources": ["issues"]}
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
    report("export_memory", rows, results)
