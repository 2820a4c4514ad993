"""Worker settings from the environment (names fixed by docs/architecture.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_EXPORT_DIR = "./exports"
DEFAULT_TOKEN_SERVICE_URL = "http://127.0.0.1:8081"  # noqa: S105 (a URL, not a secret)
DEFAULT_METRICS_BIND = "127.0.0.1:9808"
# Comments are fetched one issue at a time; a few in flight per project task turn a
# latency-bound crawl into a throughput-bound one without hammering Revizto.
DEFAULT_COMMENT_CONCURRENCY = 8
# A 100,000-issue project with comments is hours of work at Revizto's pace.
DEFAULT_TASK_TIME_LIMIT = 6 * 3600
# Redis redelivers an unacknowledged task after this long; it must exceed the time limit,
# or a long export would be handed to a second worker while the first still runs it.
DEFAULT_VISIBILITY_TIMEOUT = DEFAULT_TASK_TIME_LIMIT + 3600


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str = DEFAULT_REDIS_URL
    export_dir: Path = Path(DEFAULT_EXPORT_DIR)
    token_service_url: str = DEFAULT_TOKEN_SERVICE_URL
    token_service_secret: str = field(default="", repr=False)
    base_url_override: str | None = None
    metrics_bind: str = DEFAULT_METRICS_BIND
    comment_concurrency: int = DEFAULT_COMMENT_CONCURRENCY
    task_time_limit: int = DEFAULT_TASK_TIME_LIMIT
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        time_limit = _int(env, "EXPORT_TASK_TIME_LIMIT_SECONDS", DEFAULT_TASK_TIME_LIMIT)
        visibility = _int(env, "EXPORT_VISIBILITY_TIMEOUT_SECONDS", time_limit + 3600)
        if visibility <= time_limit:
            raise ValueError(
                "EXPORT_VISIBILITY_TIMEOUT_SECONDS must exceed EXPORT_TASK_TIME_LIMIT_SECONDS, "
                "or Redis hands a running export to a second worker"
            )
        return cls(
            redis_url=env.get("REDIS_URL", DEFAULT_REDIS_URL),
            export_dir=Path(env.get("EXPORT_DIR", DEFAULT_EXPORT_DIR)),
            token_service_url=env.get("TOKEN_SERVICE_URL", DEFAULT_TOKEN_SERVICE_URL),
            token_service_secret=env.get("TOKEN_SERVICE_SECRET", ""),
            base_url_override=env.get("REVIZTO_BASE_URL") or None,
            metrics_bind=env.get("WORKER_METRICS_BIND", DEFAULT_METRICS_BIND),
            comment_concurrency=_int(
                env, "EXPORT_COMMENT_CONCURRENCY", DEFAULT_COMMENT_CONCURRENCY
            ),
            task_time_limit=time_limit,
            visibility_timeout=visibility,
        )
