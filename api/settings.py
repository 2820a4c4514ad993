"""Job API settings from the environment (the names are listed in docs/architecture.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.downloads import download_mode_from_env
from api.keys import ApiKeys, ApiKeysProblem
from dbsync.databases import DatabaseConfigError, databases_from_env
from jobs.storage import StorageConfigError, check_storage_url
from jobs.webhook_policy import WebhookPolicy, webhook_secret_from_env
from service_common.rate_limit import RateLimitConfigError, RateLimitSettings
from token_service.client import DEFAULT_TOKEN_SERVICE_URL

DEFAULT_BIND = "127.0.0.1:8080"
DEFAULT_THREADS = 16
# GET /v1/projects walks every licence at Revizto; a minute of staleness is fine for choosing.
PROJECTS_CACHE_SECONDS = 60


class ConfigurationProblem(ValueError):
    pass


def _threads(env: Mapping[str, str]) -> int:
    raw = env.get("API_THREADS", "")
    if raw == "":
        return DEFAULT_THREADS
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        raise ConfigurationProblem(f"API_THREADS must be an integer from 1 to 1000, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class ApiSettings:
    keys: ApiKeys = field(repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    export_dir: Path = Path("./exports")
    # EXPORT_STORAGE_URL (empty: folders in export_dir) and how its files are handed out.
    storage_url: str = ""
    download_mode: str = "proxy"
    bind: str = DEFAULT_BIND
    threads: int = DEFAULT_THREADS
    token_service_url: str = DEFAULT_TOKEN_SERVICE_URL
    token_service_secret: str = field(default="", repr=False)
    base_url_override: str | None = None
    projects_cache_seconds: int = PROJECTS_CACHE_SECONDS
    # A job's notify_url must name one of these hosts; webhooks need the signing secret.
    webhook_policy: WebhookPolicy = field(default_factory=lambda: WebhookPolicy.parse(""))
    webhooks_enabled: bool = False
    # The names of EXPORT_DATABASES (a job names one; the URLs stay with the workers).
    databases: frozenset[str] = frozenset()
    # REVIZTO_RATE_LIMIT_RPS / _BURST: the API's Revizto calls share the workers' pace.
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        try:
            keys = ApiKeys.parse(
                env.get("EXPORTER_API_KEYS", ""), env.get("EXPORTER_ADMIN_KEYS", "")
            )
        except ApiKeysProblem as exc:
            raise ConfigurationProblem(str(exc)) from None
        export_dir = Path(env.get("EXPORT_DIR", "./exports"))
        try:
            databases = frozenset(databases_from_env(env, export_dir))
        except DatabaseConfigError as exc:
            raise ConfigurationProblem(str(exc)) from None
        storage_url = env.get("EXPORT_STORAGE_URL", "")
        try:
            check_storage_url(storage_url, env)
            download_mode = download_mode_from_env(env, storage_url)
        except StorageConfigError as exc:
            raise ConfigurationProblem(str(exc)) from None
        try:
            rate_limit = RateLimitSettings.from_env(env)
        except RateLimitConfigError as exc:
            raise ConfigurationProblem(str(exc)) from None
        return cls(
            keys=keys,
            redis_url=env.get("REDIS_URL", cls.redis_url),
            export_dir=export_dir,
            storage_url=storage_url,
            download_mode=download_mode,
            bind=env.get("API_BIND", DEFAULT_BIND),
            threads=_threads(env),
            token_service_url=env.get("TOKEN_SERVICE_URL", cls.token_service_url),
            token_service_secret=env.get("TOKEN_SERVICE_SECRET", ""),
            base_url_override=env.get("REVIZTO_BASE_URL") or None,
            webhook_policy=WebhookPolicy.parse(env.get("EXPORT_WEBHOOK_ALLOWED_HOSTS", "")),
            webhooks_enabled=webhook_secret_from_env(env) != "",
            databases=databases,
            rate_limit=rate_limit,
        )
