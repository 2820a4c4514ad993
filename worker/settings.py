"""Worker settings from the environment (the names are listed in docs/architecture.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dbsync.databases import databases_from_env
from jobs.storage import check_storage_url
from jobs.webhook_policy import webhook_secret_from_env
from service_common.rate_limit import RateLimitSettings
from token_service.client import DEFAULT_TOKEN_SERVICE_URL

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_EXPORT_DIR = "./exports"
DEFAULT_METRICS_BIND = "127.0.0.1:9808"
# Comments are fetched one issue at a time; a few in flight per project task turn a
# latency-bound crawl into a throughput-bound one without hammering Revizto.
DEFAULT_COMMENT_CONCURRENCY = 8
# A 100,000-issue project with comments is hours of work at Revizto's pace.
DEFAULT_TASK_TIME_LIMIT = 6 * 3600
# Redis hands an unacknowledged task out again after this long. A unit that is still
# running is never run twice (its owner heartbeats, and a second delivery backs off), so
# this only bounds how long a task reserved by a worker that died before starting it waits.
DEFAULT_VISIBILITY_TIMEOUT = 3600
# A project fails only when Revizto keeps failing for this long (retries with backoff).
DEFAULT_PROJECT_RETRY_WINDOW = 900
# The first pause before a failed request is retried (doubling up to RETRY_MAX_SECONDS).
DEFAULT_RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 60.0
# A running unit whose heartbeat is older than this is taken to be dead and is redone.
DEFAULT_STALL_SECONDS = 120
DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_RETENTION_INTERVAL = 3600
# Webhook deliveries: the first retry after this long, doubling, for up to 24 hours.
DEFAULT_WEBHOOK_RETRY_BASE_SECONDS = 10.0


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return value


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str = DEFAULT_REDIS_URL
    export_dir: Path = Path(DEFAULT_EXPORT_DIR)
    # EXPORT_STORAGE_URL: file:///path or s3://bucket/prefix; empty: folders in export_dir.
    storage_url: str = ""
    token_service_url: str = DEFAULT_TOKEN_SERVICE_URL
    token_service_secret: str = field(default="", repr=False)
    base_url_override: str | None = None
    metrics_bind: str = DEFAULT_METRICS_BIND
    comment_concurrency: int = DEFAULT_COMMENT_CONCURRENCY
    task_time_limit: int = DEFAULT_TASK_TIME_LIMIT
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    project_retry_window: float = DEFAULT_PROJECT_RETRY_WINDOW
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS
    stall_seconds: float = DEFAULT_STALL_SECONDS
    retention_days: float = DEFAULT_RETENTION_DAYS
    retention_interval: float = DEFAULT_RETENTION_INTERVAL
    webhook_secret: str = field(default="", repr=False)
    webhook_retry_base_seconds: float = DEFAULT_WEBHOOK_RETRY_BASE_SECONDS
    databases_json: str = field(default="", repr=False)  # EXPORT_DATABASES: URLs, secrets
    # REVIZTO_RATE_LIMIT_RPS / _BURST: the pace every process shares through Redis.
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)

    def databases(self) -> dict[str, str]:
        """The database destinations (DatabaseConfigError when EXPORT_DATABASES is bad)."""
        return databases_from_env({"EXPORT_DATABASES": self.databases_json}, self.export_dir)

    @property
    def heartbeat_interval(self) -> float:
        """Several beats per stall timeout, so one late beat never looks like a death."""
        return min(30.0, max(0.2, self.stall_seconds / 4))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        storage_url = env.get("EXPORT_STORAGE_URL", "")
        check_storage_url(storage_url, env)
        return cls(
            redis_url=env.get("REDIS_URL", DEFAULT_REDIS_URL),
            export_dir=Path(env.get("EXPORT_DIR", DEFAULT_EXPORT_DIR)),
            storage_url=storage_url,
            token_service_url=env.get("TOKEN_SERVICE_URL", DEFAULT_TOKEN_SERVICE_URL),
            token_service_secret=env.get("TOKEN_SERVICE_SECRET", ""),
            databases_json=env.get("EXPORT_DATABASES", ""),
            base_url_override=env.get("REVIZTO_BASE_URL") or None,
            metrics_bind=env.get("WORKER_METRICS_BIND", DEFAULT_METRICS_BIND),
            comment_concurrency=_int(
                env, "EXPORT_COMMENT_CONCURRENCY", DEFAULT_COMMENT_CONCURRENCY
            ),
            task_time_limit=_int(env, "EXPORT_TASK_TIME_LIMIT_SECONDS", DEFAULT_TASK_TIME_LIMIT),
            visibility_timeout=_int(
                env, "EXPORT_VISIBILITY_TIMEOUT_SECONDS", DEFAULT_VISIBILITY_TIMEOUT
            ),
            project_retry_window=_positive(
                env, "EXPORT_PROJECT_RETRY_WINDOW_SECONDS", DEFAULT_PROJECT_RETRY_WINDOW
            ),
            retry_base_seconds=_positive(
                env, "EXPORT_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS
            ),
            stall_seconds=_positive(env, "EXPORT_STALL_SECONDS", DEFAULT_STALL_SECONDS),
            retention_days=_positive(env, "EXPORT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            retention_interval=_positive(
                env, "EXPORT_RETENTION_INTERVAL_SECONDS", DEFAULT_RETENTION_INTERVAL
            ),
            rate_limit=RateLimitSettings.from_env(env),
            webhook_secret=webhook_secret_from_env(env),
            webhook_retry_base_seconds=_positive(
                env, "EXPORT_WEBHOOK_RETRY_BASE_SECONDS", DEFAULT_WEBHOOK_RETRY_BASE_SECONDS
            ),
        )
