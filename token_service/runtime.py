"""Build the token service's parts from Settings: Redis, the store, OAuth, file, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from prometheus_client import CollectorRegistry

from revizto.oauth import OAuthClient
from token_service import defaults
from token_service.appsettings import AppSettingsFile, AppSettingsInvalid
from token_service.config import ConfigurationProblem, Settings
from token_service.manager import TokenManager
from token_service.metrics import CredentialCollector, TokenMetrics
from token_service.state import TokenStore


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    store: TokenStore
    mirror: AppSettingsFile
    metrics: TokenMetrics
    manager: TokenManager
    base_url: str


def resolve_base_url(settings: Settings, mirror: AppSettingsFile) -> str:
    """REVIZTO_BASE_URL wins over appsettings.json's ReviztoAPI.BaseUrl."""
    if settings.base_url_override:
        return settings.base_url_override.rstrip("/")
    try:
        stored = mirror.read()
    except (OSError, AppSettingsInvalid) as exc:
        raise ConfigurationProblem(f"cannot read BaseUrl: {exc}") from None
    if stored is None or not stored.base_url:
        raise ConfigurationProblem(
            "no Revizto base URL: set REVIZTO_BASE_URL or ReviztoAPI.BaseUrl in "
            f"{mirror.path} (e.g. https://api.virginia.revizto.com)"
        )
    # API paths are {BaseUrl}/v5/... (docs/revizto-api.md §1): a BaseUrl ending in /v5 is
    # tolerated.
    return stored.base_url.rstrip("/").removesuffix("/v5")


def build_runtime(settings: Settings) -> Runtime:
    settings.check()
    client = redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        max_connections=settings.threads * 4 + 8,
    )
    store = TokenStore(client, defaults.REDIS_PREFIX)
    mirror = AppSettingsFile(settings.appsettings_path)
    base_url = resolve_base_url(settings, mirror)
    oauth = OAuthClient(
        base_url, timeouts=settings.token_timeouts, retry_policy=settings.token_retry
    )
    registry = CollectorRegistry()
    metrics = TokenMetrics(registry)
    registry.register(CredentialCollector(store))
    manager = TokenManager(settings, store, oauth, mirror, metrics)
    return Runtime(settings, client, store, mirror, metrics, manager, base_url)
