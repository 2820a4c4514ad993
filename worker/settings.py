"""Worker settings from the environment (the names are listed in docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator

from dbsync.databases import default_databases, parse_databases
from jobs.storage import StorageUrl
from jobs.storage.config import PART_SIZE_VARIABLE
from jobs.webhook_policy import checked_webhook_secret
from service_common.rate_limit import RateLimitSettings
from service_common.settings import SECRET, PositiveCount, PositiveNumber, ServiceSettings
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


class WorkerSettings(ServiceSettings):
    redis_url: str = Field(default=DEFAULT_REDIS_URL, validation_alias="REDIS_URL")
    export_dir: Path = Field(default=Path(DEFAULT_EXPORT_DIR), validation_alias="EXPORT_DIR")
    # EXPORT_STORAGE_URL: file:///path or s3://bucket/prefix; empty: folders in export_dir.
    storage_url: StorageUrl = Field(default="", validation_alias="EXPORT_STORAGE_URL")
    s3_part_bytes: PositiveCount | None = Field(default=None, validation_alias=PART_SIZE_VARIABLE)
    token_service_url: str = Field(
        default=DEFAULT_TOKEN_SERVICE_URL, validation_alias="TOKEN_SERVICE_URL"
    )
    token_service_secret: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias="TOKEN_SERVICE_SECRET"
    )
    base_url_override: str | None = Field(default=None, validation_alias="REVIZTO_BASE_URL")
    metrics_bind: str = Field(default=DEFAULT_METRICS_BIND, validation_alias="WORKER_METRICS_BIND")
    comment_concurrency: PositiveCount = Field(
        default=DEFAULT_COMMENT_CONCURRENCY, validation_alias="EXPORT_COMMENT_CONCURRENCY"
    )
    task_time_limit: PositiveCount = Field(
        default=DEFAULT_TASK_TIME_LIMIT, validation_alias="EXPORT_TASK_TIME_LIMIT_SECONDS"
    )
    visibility_timeout: PositiveCount = Field(
        default=DEFAULT_VISIBILITY_TIMEOUT, validation_alias="EXPORT_VISIBILITY_TIMEOUT_SECONDS"
    )
    project_retry_window: PositiveNumber = Field(
        default=DEFAULT_PROJECT_RETRY_WINDOW, validation_alias="EXPORT_PROJECT_RETRY_WINDOW_SECONDS"
    )
    retry_base_seconds: PositiveNumber = Field(
        default=DEFAULT_RETRY_BASE_SECONDS, validation_alias="EXPORT_RETRY_BASE_SECONDS"
    )
    stall_seconds: PositiveNumber = Field(
        default=DEFAULT_STALL_SECONDS, validation_alias="EXPORT_STALL_SECONDS"
    )
    retention_days: PositiveNumber = Field(
        default=DEFAULT_RETENTION_DAYS, validation_alias="EXPORT_RETENTION_DAYS"
    )
    retention_interval: PositiveNumber = Field(
        default=DEFAULT_RETENTION_INTERVAL, validation_alias="EXPORT_RETENTION_INTERVAL_SECONDS"
    )
    webhook_secret: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias="EXPORT_WEBHOOK_SECRET"
    )
    webhook_retry_base_seconds: PositiveNumber = Field(
        default=DEFAULT_WEBHOOK_RETRY_BASE_SECONDS,
        validation_alias="EXPORT_WEBHOOK_RETRY_BASE_SECONDS",
    )
    # EXPORT_DATABASES: name -> URL, passwords included; empty: the default database.
    database_urls: Annotated[dict[str, str], SECRET] = Field(
        default_factory=dict, validation_alias="EXPORT_DATABASES", repr=False
    )
    # REVIZTO_RATE_LIMIT_RPS / _BURST: the pace every process shares through Redis.
    rate_limit: RateLimitSettings = RateLimitSettings()

    def databases(self) -> dict[str, str]:
        """The database destinations: EXPORT_DATABASES, or the default SQLite one."""
        return dict(self.database_urls) or default_databases(self.export_dir)

    @property
    def heartbeat_interval(self) -> float:
        """Several beats per stall timeout, so one late beat never looks like a death."""
        return min(30.0, max(0.2, self.stall_seconds / 4))

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr) -> SecretStr:
        checked_webhook_secret(value.get_secret_value())
        return value

    @field_validator("database_urls", mode="before")
    @classmethod
    def _parse_databases(cls, value: Any) -> Any:
        return parse_databases(value) if isinstance(value, str) else value
