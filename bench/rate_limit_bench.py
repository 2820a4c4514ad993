"""Rate-limit benchmark (issue 13): the cluster-wide limiter against a sandbox that enforces
a per-second limit R (a sliding one-second window, answering 429 with Retry-After: 1 s).

1. R = 20, 4 worker processes, 10 projects x 300 issues with comments.
2. R = 5, one project of the default size (250 issues), the case that once failed after
   182 x 429.

Each runs twice against the same sandbox: with the limiter (REVIZTO_RATE_LIMIT_RPS at
HEADROOM x R, burst 1, because the sandbox's window allows no burst beyond R in any
second) and without it (today's behaviour before the limiter: every worker reacts to its
own 429s). Reported: the job's outcome, wall time, the achieved rate (the sandbox's data
requests over the wall time, and the answered ones alone), the 429s, and the token
service's calls per 1,000 Revizto requests (issue 13, part 3). A run without the limiter
that has not finished after OFF_DEADLINE_S is cancelled and reported as such.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import redis_server, report, sandbox, token_service_calls, workdir
from tests.support.exporter import FINISHED, ExporterStack
from tests.support.sandbox import SandboxProcess

HEADROOM = 0.95  # the limiter's rate as a share of the sandbox's R
OFF_DEADLINE_S = 420.0


@dataclass(frozen=True)
class Scenario:
    name: str
    rps: float
    projects: int
    issues: int
    workers: int


SCENARIOS = (
    Scenario("R=20, 4 workers, 10 projects x 300 issues", 20, 10, 300, 4),
    Scenario("R=5, 4 workers, 1 project x 250 issues", 5, 1, 250, 4),
)


def _run(
    tmp: Path, redis_url: str, fake: SandboxProcess, scenario: Scenario, limiter: bool
) -> dict[str, Any]:
    rate = scenario.rps * HEADROOM if limiter else 0.0
    env = {"REVIZTO_RATE_LIMIT_RPS": f"{rate:g}", "REVIZTO_RATE_LIMIT_BURST": "1"}
    stack = ExporterStack(tmp, redis_url, fake, workers=scenario.workers, worker_env=env)
    try:
        fake.reset_stats()
        started = time.perf_counter()
        job = stack.submit()
        deadline = started + (3600 if limiter else OFF_DEADLINE_S)
        while True:
            done = stack.job(job["id"])
            if done["state"] in FINISHED or time.perf_counter() > deadline:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        stats = fake.stats()
        finished = done["state"] in FINISHED
        if not finished:
            stack.call("POST", f"/v1/exports/{job['id']}:cancel")
        token_calls = token_service_calls(stack.token_service)
    finally:
        stack.stop()
    requests_sent = stats["data_requests"]
    throttled = stats["responses_429"]
    return {
        "limiter_rps": rate,
        "state": done["state"] if finished else f"not finished after {OFF_DEADLINE_S:.0f} s",
        "succeeded": done["state"] == "succeeded",
        "seconds": elapsed,
        "records": sum(done["progress"]["records"].values()),
        "data_requests": requests_sent,
        "responses_429": throttled,
        "share_429": throttled / requests_sent if requests_sent else 0.0,
        "rate": requests_sent / elapsed,
        "answered_rate": (requests_sent - throttled) / elapsed,
        "token_service_calls": token_calls,
        "token_calls_per_1000_requests": 1000 * token_calls / max(1, requests_sent),
    }


def rate_limit() -> None:
    results: dict[str, Any] = {}
    rows: list[tuple[str, str]] = []
    with workdir() as tmp, redis_server() as server:
        db = 0
        for index, scenario in enumerate(SCENARIOS):
            with sandbox(
                tmp,
                name=f"sandbox-{index}",
                projects=scenario.projects,
                issues_per_project=scenario.issues,
                rate_limit_rps=scenario.rps,
            ) as fake:
                runs: dict[str, Any] = {}
                for limiter in (True, False):
                    db += 1
                    label = "limiter on" if limiter else "limiter off"
                    run_dir = tmp / f"{index}-{label.replace(' ', '-')}"
                    run_dir.mkdir()
                    runs[label] = _run(run_dir, server.url(db), fake, scenario, limiter)
            results[scenario.name] = {"sandbox_rps": scenario.rps, **runs}
            for label, run in runs.items():
                rows.append(
                    (
                        f"{scenario.name}, {label}",
                        f"{run['state']}, {run['seconds']:.0f} s, "
                        f"{run['rate']:.1f} req/s = {run['rate'] / scenario.rps:.2f} R "
                        f"(answered {run['answered_rate'] / scenario.rps:.2f} R), "
                        f"{run['responses_429']} x 429 of {run['data_requests']} requests "
                        f"({run['share_429']:.1%}), token service "
                        f"{run['token_calls_per_1000_requests']:.2f} calls / 1,000 requests",
                    )
                )
    report("rate_limit", rows, results)
