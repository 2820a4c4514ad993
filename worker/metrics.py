"""Worker metrics (names fixed by docs/architecture.md), in prometheus-client's multiprocess
mode: Celery's prefork children write to files in PROMETHEUS_MULTIPROC_DIR and the worker's
main process serves their sum on its own /metrics port."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from service_common.rate_limit import WAIT_BUCKETS

EXPORT_JOBS = Counter(
    "revizto_export_jobs",
    "Export jobs finished, by outcome (succeeded, partially_succeeded, failed, cancelled).",
    ["outcome"],
)
EXPORT_RECORDS = Counter(
    "revizto_export_records",
    "Records written to export files, by resource.",
    ["resource"],
)
API_REQUESTS = Counter(
    "revizto_api_requests",
    "Requests to Revizto's API by endpoint and HTTP status (or network/timeout).",
    ["endpoint", "status"],
)
API_DURATION = Histogram(
    "revizto_api_request_duration_seconds",
    "Duration of requests to Revizto's API, by endpoint.",
    ["endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


# Zero-initialised, so a worker's first failed job is an increase Prometheus can see.
for _outcome in ("succeeded", "partially_succeeded", "failed", "cancelled"):
    EXPORT_JOBS.labels(outcome=_outcome)


def observe_api_request(endpoint: str, status: str, seconds: float) -> None:
    """The revizto client's RequestObserver."""
    API_REQUESTS.labels(endpoint=endpoint, status=status).inc()
    API_DURATION.labels(endpoint=endpoint).observe(seconds)


UNITS_REQUEUED = Counter(
    "revizto_export_units_requeued",
    "Job units sent back to the queue, by reason (stalled: their heartbeat stopped).",
    ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "revizto_export_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retrying, failed).",
    ["outcome"],
)
UNITS_REQUEUED.labels(reason="stalled")
for _outcome in ("delivered", "retrying", "failed"):
    WEBHOOK_DELIVERIES.labels(outcome=_outcome)

# The cluster-wide rate limit (service_common/rate_limit.py): how long requests waited for
# their slot, and how often Revizto throttled us anyway (HTTP 429 or result -2300).
RATE_LIMIT_WAIT = Histogram(
    "revizto_rate_limit_wait_seconds",
    "Time a request to Revizto waited for its slot of the cluster-wide rate limit.",
    buckets=WAIT_BUCKETS,
)
RATE_LIMITED = Counter(
    "revizto_rate_limited_responses",
    "Throttling replies from Revizto (HTTP 429 or result -2300).",
)
