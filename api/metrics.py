"""API metrics: requests by route template (bounded labels), and the export queue backlog."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import redis
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.dispatch import QUEUE
from service_common.rate_limit import WAIT_BUCKETS

# Anyone can send any verb; only these become label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class QueueCollector(Collector):
    """Export tasks waiting for a worker, read from the broker list at scrape time."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth = int(self._client.llen(QUEUE))
        except redis.RedisError:
            return
        yield GaugeMetricFamily(
            "revizto_export_queue_depth",
            "Export tasks waiting in the queue for a worker.",
            value=depth,
        )


def install_metrics(app: Flask, registry: CollectorRegistry, client: redis.Redis) -> None:
    requests_total = Counter(
        "revizto_http_requests",
        "Job API requests by route template, method and status.",
        ["route", "method", "status"],
        registry=registry,
    )
    registry.register(QueueCollector(client))

    @app.after_request
    def count(response: Response) -> Response:
        # The rule template ("/v1/exports/<job_id>"), never the raw path: labels stay bounded.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        requests_total.labels(route=route, method=method, status=str(response.status_code)).inc()
        return response


def rate_limit_observers(
    registry: CollectorRegistry,
) -> tuple[Callable[[float], None], Callable[[], None]]:
    """The API's share of the cluster-wide rate limit: slot waits and throttling replies,
    under the same names as the workers' (service_common/rate_limit.py)."""
    wait = Histogram(
        "revizto_rate_limit_wait_seconds",
        "Time a request to Revizto waited for its slot of the cluster-wide rate limit.",
        buckets=WAIT_BUCKETS,
        registry=registry,
    )
    throttled = Counter(
        "revizto_rate_limited_responses",
        "Throttling replies from Revizto (HTTP 429 or result -2300).",
        registry=registry,
    )
    return wait.observe, throttled.inc
