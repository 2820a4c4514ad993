"""Build the token service's parts from Settings: Redis, the store, OAuth, file, metrics."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import redis
from prometheus_client import CollectorRegistry

from revizto.base_url import BadBaseUrl, checked_base_url
from revizto.oauth import OAuthClient
from service_common.configuration_error import ConfigurationError
from token_service import defaults
from token_service.appsettings import AppSettingsFile, AppSettingsInvalid, PersistError
from token_service.config import Settings
from token_service.liveness import ReviztoLiveness
from token_service.manager import TokenManager
from token_service.metrics import CredentialCollector, TokenMetrics
from token_service.sealing import SealingProblem
from token_service.state import TokenStore

log = logging.getLogger(__name__)


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
    """REVIZTO_BASE_URL wins over appsettings.json's ReviztoAPI.BaseUrl; either must be
    a Revizto API host (a trailing /v5 is tolerated)."""
    url = settings.base_url_override
    source = "REVIZTO_BASE_URL"
    if not url:
        try:
            stored = mirror.read()
        except (OSError, AppSettingsInvalid) as exc:
            raise ConfigurationError(f"cannot read BaseUrl: {exc}") from None
        if stored is None or not stored.base_url:
            raise ConfigurationError(
                "no Revizto base URL: set REVIZTO_BASE_URL or ReviztoAPI.BaseUrl in "
                f"{mirror.path} (e.g. https://api.virginia.revizto.com)"
            )
        url, source = stored.base_url, f"ReviztoAPI.BaseUrl in {mirror.path}"
    try:
        return checked_base_url(url, plain_http_hosts=settings.plain_http_hosts)
    except BadBaseUrl as exc:
        raise ConfigurationError(f"{source}: {exc}") from None


def require_writable_directory(mirror: AppSettingsFile) -> None:
    """Refuse to start when appsettings.json could not be rewritten: the service would run
    healthy while every rotation failed to persist (e.g. a ./config that Docker created,
    owned by root, for a service that runs as uid 10001)."""
    try:
        mirror.check_directory_writable()
    except PersistError as exc:
        directory = mirror.path.parent
        raise ConfigurationError(
            f"the appsettings directory {directory} is not writable ({exc}): the token "
            f"service rewrites {mirror.path.name} there after every token rotation. Make it "
            f"writable by uid {os.getuid()}; with docker compose, on the host: "
            "`sudo chown -R 10001:10001 config` (the directory TOKEN_SERVICE_CONFIG mounts)"
        ) from None


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
    store = TokenStore(client, defaults.REDIS_PREFIX, settings.sealer)
    mirror = AppSettingsFile(settings.appsettings_path, settings.sealer)
    require_writable_directory(mirror)
    base_url = resolve_base_url(settings, mirror)
    oauth = OAuthClient(
        base_url, timeouts=settings.token_timeouts, retry_policy=settings.token_retry
    )
    registry = CollectorRegistry()
    metrics = TokenMetrics(registry)
    registry.register(CredentialCollector(store, settings.credential_max_age_days * 86400))
    manager = TokenManager(
        settings,
        store,
        oauth,
        mirror,
        metrics,
        revizto_answers=ReviztoLiveness(base_url).answers,
    )
    return Runtime(settings, client, store, mirror, metrics, manager, base_url)


def open_storage(runtime: Runtime) -> None:
    """At start-up, before anything is written: every stored token must open with the
    keys configured, else ConfigurationError (and nothing is overwritten). Tokens in
    Redis stored in plaintext or under an old key are then sealed with the current key."""
    sealer = runtime.settings.sealer
    try:
        runtime.mirror.read()
    except SealingProblem as exc:
        raise ConfigurationError(f"{runtime.mirror.path}: {exc}") from None
    except (OSError, AppSettingsInvalid):
        pass  # reported where the file is used; not a key problem
    try:
        state = runtime.store.load()
    except SealingProblem as exc:
        raise ConfigurationError(f"the token state in Redis: {exc}") from None
    except redis.RedisError:
        return  # Redis may come up later; readiness reports it meanwhile
    if not sealer.enabled:
        log.warning(
            "TOKEN_ENCRYPTION_KEY is not set: tokens are stored unencrypted in Redis and %s",
            runtime.mirror.path,
        )
        return
    if (
        state is not None
        and sealer.needs_resealing(state.stored_refresh_token)
        and runtime.store.reseal(state)
    ):
        log.info("token state in Redis sealed with key id %s", sealer.current_key_id)


def seal_mirror(runtime: Runtime) -> None:
    """Rewrite an appsettings.json holding plaintext (or old-key) tokens from Redis, once
    Redis has the credential (after the bootstrap read the file)."""
    if not runtime.settings.sealer.enabled:
        return
    try:
        stored = runtime.mirror.read()
        state = runtime.store.load()
    except (OSError, AppSettingsInvalid, SealingProblem, redis.RedisError):
        return
    if stored is None or stored.sealed_as_configured or state is None:
        return
    try:
        written = runtime.mirror.write_tokens(state)
    except OSError as exc:
        log.error("could not seal %s error=%s", runtime.mirror.path, exc)
        return
    if written:
        log.info(
            "%s rewritten with tokens sealed by key id %s",
            runtime.mirror.path,
            runtime.settings.sealer.current_key_id,
        )
