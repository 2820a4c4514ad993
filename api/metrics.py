"""API metrics: requests by route template (bounded labels), and the export queue backlog."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.dispatch import QUEUE

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
