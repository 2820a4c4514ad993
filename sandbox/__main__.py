"""`python -m sandbox --port P ...`: serve the fake Revizto API with waitress."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.app import create_app
from sandbox.config import (
    DEFAULT_COMMENTS_PER_ISSUE,
    DEFAULT_HOST,
    DEFAULT_ISSUES_PER_PROJECT,
    DEFAULT_PROJECTS,
    DEFAULT_SEED,
    DEFAULT_THREADS,
    DEFAULT_TOKEN_LIFETIME_S,
    SandboxConfig,
)
from sandbox.fixtures import FixtureError
from service_common.logging import configure_logging
from service_common.wsgi import serve

log = logging.getLogger("sandbox")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--projects", type=int, default=DEFAULT_PROJECTS)
    parser.add_argument("--issues-per-project", type=int, default=DEFAULT_ISSUES_PER_PROJECT)
    parser.add_argument(
        "--archived-projects",
        type=int,
        default=0,
        help="the last K generated projects are archived",
    )
    parser.add_argument("--comments-per-issue", type=int, default=DEFAULT_COMMENTS_PER_ISSUE)
    parser.add_argument(
        "--extra-licences",
        type=int,
        default=0,
        help="L more exportable licences, each with one small project",
    )
    parser.add_argument("--fixtures", type=Path, help="captured issues to serve unchanged")
    parser.add_argument("--token-lifetime", type=float, default=DEFAULT_TOKEN_LIFETIME_S)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency of data requests")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--non-rotating-refresh-tokens", action="store_true")
    parser.add_argument("--expired-token-status", type=int, choices=(401, 200), default=401)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--rate-limit-rps", type=float, default=None)
    parser.add_argument(
        "--access-code", action="append", default=[], help="pre-register a valid access code"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        projects=args.projects,
        issues_per_project=args.issues_per_project,
        archived_projects=args.archived_projects,
        extra_licences=args.extra_licences,
        comments_per_issue=args.comments_per_issue,
        fixtures=args.fixtures,
        token_lifetime_s=args.token_lifetime,
        latency_ms=args.latency_ms,
        threads=args.threads,
        rotate_refresh_tokens=not args.non_rotating_refresh_tokens,
        expired_token_status=args.expired_token_status,
        error_rate=args.error_rate,
        rate_limit_rps=args.rate_limit_rps,
        access_codes=tuple(args.access_code),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        config = config_from_args(args)
        app = create_app(config)
    except (ValueError, FixtureError) as exc:
        parser.error(str(exc))
    serve(app, f"{config.host}:{config.port}", threads=config.threads, name="sandbox")
    return 0


if __name__ == "__main__":
    sys.exit(main())
