"""Prometheus metrics of the token service (names fixed by docs/architecture.md).

Counters and histograms count what this process did. The credential gauges are read
from Redis at scrape time, so every replica reports the same truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from token_service.reasons import REFRESH_FAILURES, FailureReason
from token_service.sealing import SealingProblem
from token_service.state import TokenStore

log = logging.getLogger(__name__)

TRIGGERS = ("proactive", "reactive", "bootstrap")
OUTCOMES = ("success", "failure")


class TokenMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.refreshes = Counter(
            "revizto_token_refresh",
            "Refresh attempts against Revizto's token endpoint, by trigger and outcome.",
            ["trigger", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "revizto_token_refresh_failures",
            "Failed refreshes by reason.",
            ["reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "revizto_token_refresh_duration_seconds",
            "Time spent in one refresh, retries included.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.lock_wait = Histogram(
            "revizto_token_lock_wait_seconds",
            "Time a refresher waited for the cross-replica refresh lock.",
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.persist_failures = Counter(
            "revizto_token_persist_failures",
            "Failed writes of appsettings.json (the service carries on from Redis).",
            registry=registry,
        )
        # How often workers and the API ask (they cache the token until `refresh_at`).
        self.requests = Counter(
            "revizto_token_service_requests",
            "Calls of the token service's /v1 API, by route template and HTTP status.",
            ["route", "status"],
            registry=registry,
        )
        # Zero-initialise every bounded series so alerts see 0, not "no data".
        for trigger in TRIGGERS:
            for outcome in OUTCOMES:
                self.refreshes.labels(trigger=trigger, outcome=outcome)
        for reason in REFRESH_FAILURES:
            self.failures.labels(reason=reason.value)

    def failed(self, trigger: str, reason: FailureReason) -> None:
        if reason not in REFRESH_FAILURES:
            # A bounded label set is what keeps the series count fixed; an unexpected
            # reason is a programming error, but not one worth failing a refresh over.
            log.error("refresh failure with an unexpected reason=%s; not counted", reason)
            return
        self.refreshes.labels(trigger=trigger, outcome="failure").inc()
        self.failures.labels(reason=reason.value).inc()


class CredentialCollector(Collector):
    """Gauges of the shared credential, read from Redis on every scrape."""

    def __init__(self, store: TokenStore, credential_max_age_seconds: float) -> None:
        self._store = store
        self._max_age = credential_max_age_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readable = GaugeMetricFamily(
            "revizto_token_state_readable",
            "1 when the token state in Redis could be read during this scrape.",
        )
        try:
            snapshot = self._store.snapshot()
        except (redis.RedisError, SealingProblem) as exc:
            log.warning("metrics scrape cannot read token state error=%s", type(exc).__name__)
            readable.add_metric([], 0)
            yield readable
            return
        readable.add_metric([], 1)
        yield readable
        yield GaugeMetricFamily(
            "revizto_token_reauth_required",
            "1 while a human must install new Revizto credentials.",
            value=1 if snapshot.reauth is not None else 0,
        )
        # Configuration, exported so the credential-age alert needs no threshold of its own.
        yield GaugeMetricFamily(
            "revizto_credential_max_age_seconds",
            "How long a credential chain is assumed to last from its installation "
            "(TOKEN_CREDENTIAL_MAX_AGE_DAYS).",
            value=self._max_age,
        )
        state = snapshot.state
        if state is None:
            return
        yield GaugeMetricFamily(
            "revizto_access_token_expiry_timestamp_seconds",
            "When the current access token expires (unix seconds).",
            value=state.expires_at,
        )
        yield GaugeMetricFamily(
            "revizto_refresh_token_age_seconds",
            "Seconds since the refresh token was last issued or successfully used.",
            value=max(0.0, time.time() - state.refresh_token_issued_at),
        )
        if state.installed_at > 0:
            yield GaugeMetricFamily(
                "revizto_credential_installed_timestamp_seconds",
                "When a person last installed the credential (access code or refresh "
                "token), unix seconds; rotations keep it.",
                value=state.installed_at,
            )
        yield GaugeMetricFamily(
            "revizto_token_generation",
            "Generation of the current token pair (bumped by every rotation).",
            value=state.generation,
        )
