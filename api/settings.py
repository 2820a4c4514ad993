"""Job API settings from the environment (the names are listed in docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, InstanceOf, SecretStr, ValidationInfo, field_validator

from api.downloads import chosen_download_mode
from api.keys import ApiKeys
from dbsync.databases import DEFAULT_DATABASE, parse_databases
from jobs.storage import StorageUrl
from jobs.storage.config import PART_SIZE_VARIABLE
from jobs.webhook_policy import WebhookPolicy, checked_webhook_secret
from service_common.rate_limit import RateLimitSettings
from service_common.settings import SECRET, PositiveCount, ServiceSettings, ThreadCount
from token_service.client import DEFAULT_TOKEN_SERVICE_URL

DEFAULT_BIND = "127.0.0.1:8080"
DEFAULT_THREADS = 16
# GET /v1/projects walks every licence at Revizto; a minute of staleness is fine for choosing.
PROJECTS_CACHE_SECONDS = 60


class ApiSettings(ServiceSettings):
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    # Names (not keys) of the keys that see every job; read before the keys, which need them.
    admin_key_names: str = Field(default="", validation_alias="EXPORTER_ADMIN_KEYS")
    keys: Annotated[InstanceOf[ApiKeys], SECRET] = Field(
        validation_alias="EXPORTER_API_KEYS", repr=False
    )
    export_dir: Path = Field(default=Path("./exports"), validation_alias="EXPORT_DIR")
    # EXPORT_STORAGE_URL (empty: folders in export_dir) and how its files are handed out.
    storage_url: StorageUrl = Field(default="", validation_alias="EXPORT_STORAGE_URL")
    s3_part_bytes: PositiveCount | None = Field(default=None, validation_alias=PART_SIZE_VARIABLE)
    download_mode: str = Field(
        default="", validation_alias="EXPORT_DOWNLOAD_MODE", validate_default=True
    )
    bind: str = Field(default=DEFAULT_BIND, validation_alias="API_BIND")
    threads: ThreadCount = Field(default=DEFAULT_THREADS, validation_alias="API_THREADS")
    token_service_url: str = Field(
        default=DEFAULT_TOKEN_SERVICE_URL, validation_alias="TOKEN_SERVICE_URL"
    )
    token_service_secret: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias="TOKEN_SERVICE_SECRET"
    )
    base_url_override: str | None = Field(default=None, validation_alias="REVIZTO_BASE_URL")
    projects_cache_seconds: int = PROJECTS_CACHE_SECONDS
    # A job's notify_url must name one of these hosts; webhooks need the signing secret.
    webhook_policy: InstanceOf[WebhookPolicy] = Field(
        default_factory=lambda: WebhookPolicy.parse(""),
        validation_alias="EXPORT_WEBHOOK_ALLOWED_HOSTS",
    )
    webhook_secret: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias="EXPORT_WEBHOOK_SECRET"
    )
    # The names of EXPORT_DATABASES (a job names one; the URLs stay with the workers).
    databases: Annotated[frozenset[str], SECRET] = Field(
        default=frozenset({DEFAULT_DATABASE}), validation_alias="EXPORT_DATABASES"
    )
    # REVIZTO_RATE_LIMIT_RPS / _BURST: the API's Revizto calls share the workers' pace.
    rate_limit: RateLimitSettings = RateLimitSettings()

    @property
    def webhooks_enabled(self) -> bool:
        return bool(self.webhook_secret.get_secret_value())

    @field_validator("keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return ApiKeys.parse(value, info.data.get("admin_key_names", ""))

    @field_validator("download_mode")
    @classmethod
    def _choose_download_mode(cls, value: str, info: ValidationInfo) -> str:
        storage_url = info.data.get("storage_url")
        if storage_url is None:
            return value  # EXPORT_STORAGE_URL is refused already; one error is enough
        return chosen_download_mode(value, storage_url)

    @field_validator("webhook_policy", mode="before")
    @classmethod
    def _parse_webhook_policy(cls, value: Any) -> Any:
        return WebhookPolicy.parse(value) if isinstance(value, str) else value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr) -> SecretStr:
        checked_webhook_secret(value.get_secret_value())
        return value

    @field_validator("databases", mode="before")
    @classmethod
    def _database_names(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return frozenset(parse_databases(value)) or frozenset({DEFAULT_DATABASE})
