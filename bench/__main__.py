"""python -m bench [NAME ...]: run benchmarks and print their numbers (also in bench/results/)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from bench import export_bench, jobs_bench, rate_limit_bench, sync_bench, token_service_bench

BENCHMARKS: dict[str, Callable[[], None]] = {
    "token_throughput": token_service_bench.throughput,
    "token_storm": token_service_bench.storm,
    "export_speed": export_bench.speed,
    "export_memory": export_bench.memory,
    "export_memory_s3": export_bench.memory_s3,
    "job_listing": jobs_bench.listing,
    "stall_recovery": jobs_bench.stall_recovery,
    "export_error_rates": jobs_bench.error_rates,
    "database_sync": sync_bench.database_sync,
    "rate_limit": rate_limit_bench.rate_limit,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.names or BENCHMARKS:
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
