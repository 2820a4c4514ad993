"""python -m demo: run the exporter against the sandbox and export everything once.

Without arguments it starts a private Redis, the sandbox, the token service (its
appsettings.json bootstrapped from a sandbox access code), the job API and a worker;
submits an export over HTTP with an API key; shows progress; prints the summary and where
the files are; and stops every process it started, also on Ctrl-C or failure.

With --api-url and --api-key it only submits and follows an export on running services
(this is what `docker compose --profile demo up` runs).
"""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import requests

from dbsync.databases import SQLITE_FILE
from demo.client import print_database, print_summary
from demo.launcher import REPO_ROOT, Launcher, free_port, require_redis_server
from revizto_export.client import JobApiClient
from revizto_export.follow import follow_lines

DEMO_DIR = REPO_ROOT / ".demo"
JOB_TIMEOUT_S = 300


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api-url", help="follow an export on an API that is already running")
    parser.add_argument("--api-key", help="one of that API's EXPORTER_API_KEYS")
    parser.add_argument("--projects", type=int, default=3, help="sandbox projects (default 3)")
    parser.add_argument("--issues-per-project", type=int, default=200, help="default 200")
    parser.add_argument(
        "--latency-ms", type=int, default=20, help="sandbox delay per request, like a real API"
    )
    parser.add_argument("--format", choices=["ndjson", "json", "csv"], default="ndjson")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the services up until Ctrl-C"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEMO_DIR,
        help="where runs go (default .demo/ in the repository)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser()
    args = parser.parse_args(argv)
    if args.api_url:
        if not args.api_key:
            parser.error("--api-url needs --api-key")
        return follow_remote(args.api_url, args.api_key, args.format)
    try:
        return run_locally(args)
    except KeyboardInterrupt:
        print("\nInterrupted: every process the demo started has been stopped.", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"\nDemo failed: {exc}", file=sys.stderr)
        return 1


def follow_remote(api_url: str, api_key: str, fmt: str) -> int:
    client = JobApiClient(api_url, api_key)
    wait_for(f"{api_url.rstrip('/')}/readyz", 120)
    started = time.monotonic()
    job = client.submit({"format": fmt})
    print(f"Submitted export {job['id']}")
    done = follow(client, job["id"])
    print_summary(done, time.monotonic() - started, where=None)
    return 0 if done["state"] == "succeeded" else 1


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def run_locally(args: argparse.Namespace) -> int:
    redis_binary = require_redis_server()
    run_dir = args.dir / time.strftime("%Y%m%d-%H%M%S")
    logs = run_dir / "logs"
    logs.mkdir(parents=True)
    ports = {
        name: free_port() for name in ("redis", "sandbox", "token_service", "api", "worker_metrics")
    }
    secret, api_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    print(f"Demo directory: {run_dir}")

    with Launcher(logs) as launcher:
        print(
            "Starting a private Redis, the sandbox, the token service, the job API and a worker..."
        )
        launcher.start(
            "redis",
            [
                redis_binary,
                "--port",
                str(ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(run_dir),
            ],
        )
        sandbox_url = f"http://127.0.0.1:{ports['sandbox']}"
        launcher.python(
            "sandbox",
            "sandbox",
            "--port",
            str(ports["sandbox"]),
            "--projects",
            str(args.projects),
            "--issues-per-project",
            str(args.issues_per_project),
            "--latency-ms",
            str(args.latency_ms),
        )
        launcher.wait_ready("sandbox", f"{sandbox_url}/_sandbox/stats")

        code = requests.post(f"{sandbox_url}/_sandbox/access-codes", timeout=10).json()["code"]
        appsettings = run_dir / "appsettings.json"
        appsettings.write_text(
            json.dumps(
                {
                    "ReviztoAPI": {
                        "AccessToken": "",
                        "RefreshToken": "",
                        "BaseUrl": sandbox_url,
                        "ApiKey": code,
                    }
                },
                indent=2,
            )
        )
        appsettings.chmod(0o600)
        env = {
            "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "APPSETTINGS_PATH": str(appsettings),
            "TOKEN_SERVICE_SECRET": secret,
            "TOKEN_SERVICE_BIND": f"127.0.0.1:{ports['token_service']}",
            "TOKEN_SERVICE_URL": f"http://127.0.0.1:{ports['token_service']}",
            "EXPORTER_API_KEYS": api_key,
            "API_BIND": f"127.0.0.1:{ports['api']}",
            "EXPORT_DIR": str(run_dir / "exports"),
            "WORKER_METRICS_BIND": f"127.0.0.1:{ports['worker_metrics']}",
            # The sandbox is local and unlimited: a brisk pace, still through the limiter.
            "REVIZTO_RATE_LIMIT_RPS": "100",
            "REVIZTO_RATE_LIMIT_BURST": "20",
        }
        launcher.python("token_service", "token_service", env=env)
        launcher.python("api", "api", env=env)
        launcher.python(
            "worker",
            "celery",
            "-A",
            "worker.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            env=env,
        )
        token_url = f"http://127.0.0.1:{ports['token_service']}"
        api_url = f"http://127.0.0.1:{ports['api']}"
        launcher.wait_ready("token_service", f"{token_url}/readyz")
        launcher.wait_ready("api", f"{api_url}/readyz")
        launcher.wait_ready(
            "worker", f"http://127.0.0.1:{ports['worker_metrics']}/metrics", timeout=90
        )

        client = JobApiClient(api_url, api_key)
        print("\nSubmitting an export over HTTP, as an integrator would:")
        body = json.dumps({"format": args.format})
        print(
            f'  curl -X POST {api_url}/v1/exports -H "Authorization: Bearer $API_KEY" '
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
        )
        started = time.monotonic()
        job = client.submit({"format": args.format})
        done = follow(client, job["id"])
        print_summary(done, time.monotonic() - started, where=str(run_dir / "exports" / done["id"]))
        print("\nSyncing into the embedded SQLite database, as a nightly job would:")
        sync_body = {"mode": "incremental", "destination": {"type": "database", "name": "local"}}
        print(
            f'  curl -X POST {api_url}/v1/exports -H "Authorization: Bearer $API_KEY" '
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(sync_body))}"
        )
        synced = follow(client, client.submit(sync_body)["id"])
        print_database(synced, run_dir / "exports" / SQLITE_FILE)
        print(f"Logs of every process: {logs}")
        if args.keep_running:
            key_file = run_dir / "api-key"
            key_file.write_text(api_key + "\n")
            key_file.chmod(0o600)
            print("\nServices keep running. In another terminal, paste:")
            print(f'  export API_URL={api_url} API_KEY="$(cat {shlex.quote(str(key_file))})"')
            print('  export EXPORTER_URL="$API_URL" EXPORTER_API_KEY="$API_KEY"')
            print(f"  export TOKEN_URL={token_url} TOKEN_SERVICE_SECRET={shlex.quote(secret)}")
            print(f"  export SANDBOX_URL={sandbox_url}")
            print(
                f"  export REDIS_URL={env['REDIS_URL']} "
                f"APPSETTINGS_PATH={shlex.quote(str(appsettings))}"
            )
            print("Then try the command-line client:")
            for command in cli_examples(done["id"]):
                print(f"  {command}")
            print("Press Ctrl-C here to stop them all.")
            while True:
                time.sleep(3600)
        print("Stopping every process the demo started...")
    return 0 if done["state"] == synced["state"] == "succeeded" else 1


def follow(client: JobApiClient, job_id: str) -> dict[str, Any]:
    return follow_lines(
        lambda: client.job(job_id), lambda line: print(f"  {line}", flush=True), JOB_TIMEOUT_S
    )


def cli_examples(job_id: str) -> list[str]:
    """`revizto-export` commands against the running demo, ready to paste."""
    cli = shlex.quote(str(Path(sys.executable).parent / "revizto-export"))
    return [
        f"{cli} projects",
        f"{cli} export --resource issues --resource comments --format csv --wait",
        f"{cli} list --limit 5",
        f"{cli} status {job_id}",
        f"{cli} download {job_id} ./export-{job_id}",
        f"{cli} credential",
    ]


if __name__ == "__main__":
    sys.exit(main())
