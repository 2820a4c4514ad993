"""Token-service settings, read once from the environment and checked before serving."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from revizto.retry import RetryPolicy
from revizto.transport import Timeouts
from token_service import defaults
from token_service.sealing import Sealer, SealingProblem, sealer_from_env


class ConfigurationProblem(ValueError):
    """A setting is missing or inconsistent; the message names it."""


def _float(
    env: Mapping[str, str], name: str, default: float, *, zero_allowed: bool = False
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationProblem(f"{name} must be a number, got {raw!r}") from None
    if not (value > 0 or (zero_allowed and value == 0)):
        least = "0 or more" if zero_allowed else "greater than 0"
        raise ConfigurationProblem(f"{name} must be {least}, got {raw!r}")
    return value


def _count(env: Mapping[str, str], name: str, default: int, *, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= high:
        raise ConfigurationProblem(f"{name} must be a whole number from 1 to {high}, got {raw!r}")
    return int(raw)


DEFAULT_TOKEN_TIMEOUTS = Timeouts(
    defaults.DEFAULT_TOKEN_CONNECT_TIMEOUT, defaults.DEFAULT_TOKEN_READ_TIMEOUT
)
DEFAULT_TOKEN_RETRY = RetryPolicy(
    attempts=defaults.DEFAULT_TOKEN_ATTEMPTS,
    max_backoff=defaults.DEFAULT_TOKEN_MAX_BACKOFF,
    retry_after_cap=defaults.DEFAULT_TOKEN_RETRY_AFTER_CAP,
)


@dataclass(frozen=True)
class Settings:
    secret: str = field(repr=False)
    redis_url: str = defaults.DEFAULT_REDIS_URL
    appsettings_path: Path = Path(defaults.DEFAULT_APPSETTINGS_PATH)
    base_url_override: str | None = None
    bind: str = defaults.DEFAULT_BIND
    threads: int = defaults.DEFAULT_THREADS
    refresh_threshold: float = defaults.DEFAULT_REFRESH_THRESHOLD_SECONDS
    token_timeouts: Timeouts = DEFAULT_TOKEN_TIMEOUTS
    token_retry: RetryPolicy = DEFAULT_TOKEN_RETRY
    lock_lease: float = defaults.DEFAULT_LOCK_LEASE_SECONDS
    lock_wait: float = defaults.DEFAULT_LOCK_WAIT_SECONDS
    keepalive: float = defaults.DEFAULT_KEEPALIVE_SECONDS  # 0: off
    refresh_failing_attempts: int = defaults.DEFAULT_REFRESH_FAILING_ATTEMPTS
    refresh_failing_seconds: float = defaults.DEFAULT_REFRESH_FAILING_SECONDS
    credential_max_age_days: float = defaults.DEFAULT_CREDENTIAL_MAX_AGE_DAYS
    state_check: float = defaults.DEFAULT_STATE_CHECK_SECONDS  # 0: off
    plain_http_hosts: frozenset[str] = frozenset(defaults.DEFAULT_PLAIN_HTTP_HOSTS.split(","))
    sealer: Sealer = field(default_factory=Sealer, repr=False)

    def worst_case_refresh_seconds(self) -> float:
        """Longest a refresh can take: every attempt timing out, plus the waits between."""
        per_attempt = self.token_timeouts.connect + self.token_timeouts.read
        # The token service always bounds its attempts (its RetryPolicy has `attempts`).
        attempts = self.token_retry.attempts or 1
        return per_attempt * attempts + self.token_retry.worst_case_waiting()

    def check(self) -> None:
        """Refuse settings under which a refresh could outlive its lock (guarantee 4)."""
        if not self.secret:
            raise ConfigurationProblem("TOKEN_SERVICE_SECRET is required")
        if self.credential_max_age_days <= defaults.CREDENTIAL_AGE_WARNING_DAYS:
            raise ConfigurationProblem(
                f"TOKEN_CREDENTIAL_MAX_AGE_DAYS={self.credential_max_age_days:g} must exceed "
                f"the {defaults.CREDENTIAL_AGE_WARNING_DAYS:g} days of warning the alert gives"
            )
        if self.lock_lease <= self.worst_case_refresh_seconds():
            raise ConfigurationProblem(
                f"TOKEN_LOCK_LEASE_SECONDS={self.lock_lease:g} must exceed the worst-case "
                f"refresh time {self.worst_case_refresh_seconds():g}s "
                "(attempts x (connect + read timeout) + backoff); raise it or lower the timeouts"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        retry = RetryPolicy(
            attempts=defaults.DEFAULT_TOKEN_ATTEMPTS,
            initial_backoff=_float(env, "REVIZTO_TOKEN_INITIAL_BACKOFF_SECONDS", 0.5),
            max_backoff=_float(
                env, "REVIZTO_TOKEN_MAX_BACKOFF_SECONDS", defaults.DEFAULT_TOKEN_MAX_BACKOFF
            ),
            retry_after_cap=_float(
                env, "REVIZTO_TOKEN_RETRY_AFTER_CAP_SECONDS", defaults.DEFAULT_TOKEN_RETRY_AFTER_CAP
            ),
        )
        try:
            sealer = sealer_from_env(env)
        except SealingProblem as exc:
            raise ConfigurationProblem(str(exc)) from None
        threads_raw = env.get("TOKEN_SERVICE_THREADS", str(defaults.DEFAULT_THREADS))
        if not threads_raw.isdigit() or int(threads_raw) < 1:
            raise ConfigurationProblem(
                f"TOKEN_SERVICE_THREADS must be a positive integer, got {threads_raw!r}"
            )
        return cls(
            secret=env.get("TOKEN_SERVICE_SECRET", ""),
            redis_url=env.get("REDIS_URL", defaults.DEFAULT_REDIS_URL),
            appsettings_path=Path(env.get("APPSETTINGS_PATH", defaults.DEFAULT_APPSETTINGS_PATH)),
            base_url_override=env.get("REVIZTO_BASE_URL") or None,
            bind=env.get("TOKEN_SERVICE_BIND", defaults.DEFAULT_BIND),
            threads=int(threads_raw),
            refresh_threshold=_float(
                env, "TOKEN_REFRESH_THRESHOLD_SECONDS", defaults.DEFAULT_REFRESH_THRESHOLD_SECONDS
            ),
            token_timeouts=Timeouts(
                connect=_float(
                    env, "REVIZTO_TOKEN_CONNECT_TIMEOUT", defaults.DEFAULT_TOKEN_CONNECT_TIMEOUT
                ),
                read=_float(env, "REVIZTO_TOKEN_READ_TIMEOUT", defaults.DEFAULT_TOKEN_READ_TIMEOUT),
            ),
            token_retry=retry,
            lock_lease=_float(env, "TOKEN_LOCK_LEASE_SECONDS", defaults.DEFAULT_LOCK_LEASE_SECONDS),
            lock_wait=_float(env, "TOKEN_LOCK_WAIT_SECONDS", defaults.DEFAULT_LOCK_WAIT_SECONDS),
            keepalive=_float(
                env,
                "TOKEN_KEEPALIVE_SECONDS",
                defaults.DEFAULT_KEEPALIVE_SECONDS,
                zero_allowed=True,
            ),
            refresh_failing_attempts=_count(
                env,
                "TOKEN_REFRESH_FAILING_ATTEMPTS",
                defaults.DEFAULT_REFRESH_FAILING_ATTEMPTS,
                high=defaults.MAX_REFUSED_REQUESTS,
            ),
            refresh_failing_seconds=_float(
                env, "TOKEN_REFRESH_FAILING_SECONDS", defaults.DEFAULT_REFRESH_FAILING_SECONDS
            ),
            credential_max_age_days=_float(
                env, "TOKEN_CREDENTIAL_MAX_AGE_DAYS", defaults.DEFAULT_CREDENTIAL_MAX_AGE_DAYS
            ),
            state_check=_float(
                env,
                "TOKEN_STATE_CHECK_SECONDS",
                defaults.DEFAULT_STATE_CHECK_SECONDS,
                zero_allowed=True,
            ),
            plain_http_hosts=frozenset(
                host.strip().lower()
                for host in env.get(
                    "REVIZTO_PLAIN_HTTP_HOSTS", defaults.DEFAULT_PLAIN_HTTP_HOSTS
                ).split(",")
                if host.strip()
            ),
            sealer=sealer,
        )
