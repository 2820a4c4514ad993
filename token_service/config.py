"""Token-service settings, read once from the environment and checked before serving."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, InstanceOf, SecretStr, field_validator

from revizto.retry import RetryPolicy
from revizto.transport import Timeouts
from service_common.configuration_error import ConfigurationError
from service_common.settings import (
    SECRET,
    PositiveNumber,
    ServiceSettings,
    ThreadCount,
    ZeroOrPositiveNumber,
)
from token_service import defaults
from token_service.encryption_settings import EncryptionSettings
from token_service.sealing import Sealer

DEFAULT_TOKEN_TIMEOUTS = Timeouts(
    defaults.DEFAULT_TOKEN_CONNECT_TIMEOUT, defaults.DEFAULT_TOKEN_READ_TIMEOUT
)
DEFAULT_TOKEN_RETRY = RetryPolicy(
    attempts=defaults.DEFAULT_TOKEN_ATTEMPTS,
    max_backoff=defaults.DEFAULT_TOKEN_MAX_BACKOFF,
    retry_after_cap=defaults.DEFAULT_TOKEN_RETRY_AFTER_CAP,
)


class TokenCallSettings(ServiceSettings):
    """The timeouts and backoff of the OAuth token call, which together bound a refresh."""

    connect_timeout: PositiveNumber = Field(
        default=defaults.DEFAULT_TOKEN_CONNECT_TIMEOUT,
        validation_alias="REVIZTO_TOKEN_CONNECT_TIMEOUT",
    )
    read_timeout: PositiveNumber = Field(
        default=defaults.DEFAULT_TOKEN_READ_TIMEOUT, validation_alias="REVIZTO_TOKEN_READ_TIMEOUT"
    )
    initial_backoff: PositiveNumber = Field(
        default=0.5, validation_alias="REVIZTO_TOKEN_INITIAL_BACKOFF_SECONDS"
    )
    max_backoff: PositiveNumber = Field(
        default=defaults.DEFAULT_TOKEN_MAX_BACKOFF,
        validation_alias="REVIZTO_TOKEN_MAX_BACKOFF_SECONDS",
    )
    retry_after_cap: PositiveNumber = Field(
        default=defaults.DEFAULT_TOKEN_RETRY_AFTER_CAP,
        validation_alias="REVIZTO_TOKEN_RETRY_AFTER_CAP_SECONDS",
    )

    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout, read=self.read_timeout)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=defaults.DEFAULT_TOKEN_ATTEMPTS,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            retry_after_cap=self.retry_after_cap,
        )


class Settings(ServiceSettings):
    secret: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias="TOKEN_SERVICE_SECRET"
    )
    redis_url: str = Field(default=defaults.DEFAULT_REDIS_URL, validation_alias="REDIS_URL")
    appsettings_path: Path = Field(
        default=Path(defaults.DEFAULT_APPSETTINGS_PATH), validation_alias="APPSETTINGS_PATH"
    )
    base_url_override: str | None = Field(default=None, validation_alias="REVIZTO_BASE_URL")
    bind: str = Field(default=defaults.DEFAULT_BIND, validation_alias="TOKEN_SERVICE_BIND")
    threads: ThreadCount = Field(
        default=defaults.DEFAULT_THREADS, validation_alias="TOKEN_SERVICE_THREADS"
    )
    refresh_threshold: PositiveNumber = Field(
        default=defaults.DEFAULT_REFRESH_THRESHOLD_SECONDS,
        validation_alias="TOKEN_REFRESH_THRESHOLD_SECONDS",
    )
    # Built from TokenCallSettings by from_env; given directly in tests.
    token_timeouts: InstanceOf[Timeouts] = DEFAULT_TOKEN_TIMEOUTS
    token_retry: InstanceOf[RetryPolicy] = DEFAULT_TOKEN_RETRY
    lock_lease: PositiveNumber = Field(
        default=defaults.DEFAULT_LOCK_LEASE_SECONDS, validation_alias="TOKEN_LOCK_LEASE_SECONDS"
    )
    lock_wait: PositiveNumber = Field(
        default=defaults.DEFAULT_LOCK_WAIT_SECONDS, validation_alias="TOKEN_LOCK_WAIT_SECONDS"
    )
    keepalive: ZeroOrPositiveNumber = Field(
        default=defaults.DEFAULT_KEEPALIVE_SECONDS, validation_alias="TOKEN_KEEPALIVE_SECONDS"
    )
    refresh_failing_attempts: int = Field(
        default=defaults.DEFAULT_REFRESH_FAILING_ATTEMPTS,
        ge=1,
        le=defaults.MAX_REFUSED_REQUESTS,
        validation_alias="TOKEN_REFRESH_FAILING_ATTEMPTS",
    )
    refresh_failing_seconds: PositiveNumber = Field(
        default=defaults.DEFAULT_REFRESH_FAILING_SECONDS,
        validation_alias="TOKEN_REFRESH_FAILING_SECONDS",
    )
    credential_max_age_days: PositiveNumber = Field(
        default=defaults.DEFAULT_CREDENTIAL_MAX_AGE_DAYS,
        validation_alias="TOKEN_CREDENTIAL_MAX_AGE_DAYS",
    )
    state_check: ZeroOrPositiveNumber = Field(
        default=defaults.DEFAULT_STATE_CHECK_SECONDS, validation_alias="TOKEN_STATE_CHECK_SECONDS"
    )
    plain_http_hosts: frozenset[str] = Field(
        default=frozenset(defaults.DEFAULT_PLAIN_HTTP_HOSTS.split(",")),
        validation_alias="REVIZTO_PLAIN_HTTP_HOSTS",
    )
    # Built from EncryptionSettings by from_env; given directly in tests.
    sealer: InstanceOf[Sealer] = Field(default_factory=Sealer, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        environment = os.environ if env is None else env
        token_call = TokenCallSettings.load(environment)
        return cls.load(
            environment,
            token_timeouts=token_call.timeouts(),
            token_retry=token_call.retry_policy(),
            sealer=EncryptionSettings.load(environment).sealer(),
        )

    @field_validator("plain_http_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return frozenset(host.strip().lower() for host in value.split(",") if host.strip())

    def worst_case_refresh_seconds(self) -> float:
        """Longest a refresh can take: every attempt timing out, plus the waits between."""
        per_attempt = self.token_timeouts.connect + self.token_timeouts.read
        # The token service always bounds its attempts (its RetryPolicy has `attempts`).
        attempts = self.token_retry.attempts or 1
        return per_attempt * attempts + self.token_retry.worst_case_waiting()

    def check(self) -> None:
        """Refuse settings under which a refresh could outlive its lock (guarantee 4)."""
        if not self.secret.get_secret_value():
            raise ConfigurationError("TOKEN_SERVICE_SECRET is required")
        if self.credential_max_age_days <= defaults.CREDENTIAL_AGE_WARNING_DAYS:
            raise ConfigurationError(
                f"TOKEN_CREDENTIAL_MAX_AGE_DAYS={self.credential_max_age_days:g} must exceed "
                f"the {defaults.CREDENTIAL_AGE_WARNING_DAYS:g} days of warning the alert gives"
            )
        if self.lock_lease <= self.worst_case_refresh_seconds():
            raise ConfigurationError(
                f"TOKEN_LOCK_LEASE_SECONDS={self.lock_lease:g} must exceed the worst-case "
                f"refresh time {self.worst_case_refresh_seconds():g}s "
                "(attempts x (connect + read timeout) + backoff); raise it or lower the timeouts"
            )
