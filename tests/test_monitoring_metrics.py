"""Every metric a dashboard query, a Prometheus alert or a Grafana alert rule names is one
the exporter really exposes: the names come from scraping the live token service, job API
and a worker after a real export, not from a list that could drift from the code."""

from __future__ import annotations

import email.message
import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

from tests.conftest import stop_and_check_for_leaks
from tests.support.exporter import ExporterStack
from tests.support.monitoring import (
    METRIC_TOKEN,
    PROMETHEUS_SERIES,
    Matcher,
    Query,
    Registry,
    monitoring_files,
    monitoring_queries,
    read_promql,
)
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxProcess

MONITORING_TESTS_REDIS_DB = 13  # its own database, so the per-test flush of db 0 spares it
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}


@pytest.fixture(scope="module")
def registry(
    redis_server: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """Scrapes of a whole exporter after one successful and one failed export, so that
    the worker's labelled series (created at first use) exist."""
    directory = tmp_path_factory.mktemp("monitoring-stack")
    sandbox = SandboxProcess(directory, projects=1, issues_per_project=5)
    redis.Redis.from_url(redis_server.url(MONITORING_TESTS_REDIS_DB)).flushdb()
    stack = ExporterStack(
        directory, redis_server.url(MONITORING_TESTS_REDIS_DB), sandbox, workers=1
    )
    try:
        succeeded = stack.wait_finished(stack.submit()["id"], timeout=90)
        assert succeeded["state"] == "succeeded", succeeded["error"]
        failed = stack.wait_finished(stack.submit({"license_uuid": str(uuid.uuid4())})["id"])
        assert failed["state"] == "failed", failed
        scraped = Registry()
        for source, url in [
            ("api", f"{stack.api_url}/metrics"),
            ("token_service", f"{stack.token_service.base_url}/metrics"),
            *(("worker", worker.metrics_url) for worker in stack.workers),
        ]:
            reply = requests.get(url, timeout=10)
            scraped.add_scrape(source, reply.text, reply.headers["Content-Type"])
        yield scraped
    finally:
        try:
            stop_and_check_for_leaks(stack)
        finally:
            sandbox.stop()


# --- the PromQL reader the checks rely on -----------------------------------------------------


def test_promql_reader_separates_metrics_from_functions_labels_and_durations() -> None:
    names = read_promql(
        'histogram_quantile(0.95, sum by (le, endpoint) (rate(revizto_x_bucket{status!~"2.."}'
        '[$__rate_interval]))) > 0.5 unless on () (max(up{job="worker"}) == bool 0) '
        "or revizto_y offset 30m and sumx(revizto_z[5m:1m])"
    )
    assert names.metrics == {"revizto_x_bucket", "up", "revizto_y", "revizto_z"}
    assert names.functions == {"histogram_quantile", "sum", "rate", "max"}
    assert names.unknown_functions == {"sumx"}
    assert names.grouping_labels == {"le", "endpoint"}
    assert ("revizto_x_bucket", [Matcher("status", "!~", "2..")]) in names.selectors
    assert ("up", [Matcher("job", "=", "worker")]) in names.selectors


def test_every_monitoring_file_has_queries_to_check() -> None:
    wheres = {query.where.split()[0] for query in monitoring_queries()}
    assert wheres == {"alerts.yml", "dashboard", "grafana"}


# --- the checks --------------------------------------------------------------------------------


def test_exporter_exposes_the_documented_metrics(registry: Registry) -> None:
    # The names fixed by docs/architecture.md, as samples: a regression guard for the
    # scrape itself (an empty scrape would make every later check vacuous).
    documented = {
        "revizto_token_refresh_total": "token_service",
        "revizto_token_refresh_failures_total": "token_service",
        "revizto_token_refresh_duration_seconds_bucket": "token_service",
        "revizto_access_token_expiry_timestamp_seconds": "token_service",
        "revizto_token_reauth_required": "token_service",
        "revizto_token_lock_wait_seconds_bucket": "token_service",
        "revizto_token_persist_failures_total": "token_service",
        "revizto_refresh_token_age_seconds": "token_service",
        "revizto_token_generation": "token_service",
        "revizto_token_state_readable": "token_service",
        "revizto_export_jobs_total": "worker",
        "revizto_export_records_total": "worker",
        "revizto_api_requests_total": "worker",
        "revizto_api_request_duration_seconds_bucket": "worker",
        "revizto_http_requests_total": "api",
        "revizto_export_queue_depth": "api",
    }
    assert {name: registry.source.get(name) for name in documented} == documented


def test_every_scrape_answers_one_valid_exposition_content_type(registry: Registry) -> None:
    # Prometheus 3 refuses a scrape whose Content-Type it cannot parse, and a parameter
    # given twice (`charset=utf-8; charset=utf-8`) is such a one.
    assert set(registry.content_types) == {"api", "token_service", "worker"}
    for source, header in registry.content_types.items():
        message = email.message.Message()
        message["Content-Type"] = header
        params = [name for name, _ in message.get_params(header="content-type")[1:]]
        assert message.get_content_type() == "text/plain", (source, header)
        assert len(params) == len(set(params)), (source, header)
        assert message.get_param("version") in ("0.0.4", "1.0.0"), (source, header)


def test_every_metric_named_in_the_monitoring_files_is_registered(registry: Registry) -> None:
    # Every revizto_* word anywhere (queries, annotations, descriptions): an operator told
    # to look at a metric must find it.
    unknown = {
        f"{path.name}: {name}"
        for path in monitoring_files()
        for name in METRIC_TOKEN.findall(path.read_text())
        if name not in registry.labels
    }
    assert not unknown, f"not exposed by the exporter: {sorted(unknown)}"


def test_queries_name_only_registered_metrics_and_known_functions(registry: Registry) -> None:
    problems = []
    for query in monitoring_queries():
        names = read_promql(query.expr)
        if not names.metrics:
            problems.append(f"{query.where}: queries no metric")
        for metric in names.metrics - PROMETHEUS_SERIES:
            if metric not in registry.labels:
                problems.append(f"{query.where}: {metric} is not exposed by the exporter")
        for function in names.unknown_functions:
            problems.append(f"{query.where}: {function}() is not a PromQL function")
    assert not problems, "\n".join(problems)


def test_selectors_match_labels_and_values_the_metrics_have(registry: Registry) -> None:
    problems = []
    for query in monitoring_queries():
        for metric, matchers in read_promql(query.expr).selectors:
            problems += selector_problems(query, metric, matchers, registry)
    assert not problems, "\n".join(problems)


def selector_problems(
    query: Query, metric: str, matchers: list[Matcher], registry: Registry
) -> list[str]:
    if metric in PROMETHEUS_SERIES:
        return [
            f"{query.where}: {metric}{{{m.label}...}} is not a target label"
            for m in matchers
            if m.label not in TARGET_LABELS
        ]
    problems = []
    for matcher in matchers:
        if matcher.label not in registry.labels[metric]:
            problems.append(f"{query.where}: {metric} has no label {matcher.label!r}")
        elif matcher.op == "=" and matcher.value not in registry.values[(metric, matcher.label)]:
            # The export run above made every value the rules select on appear.
            seen = sorted(registry.values[(metric, matcher.label)])
            problems.append(f"{query.where}: {metric}{{{matcher.label}={matcher.value!r}}}: {seen}")
    return problems


def test_grouping_labels_exist_on_the_queried_metrics(registry: Registry) -> None:
    problems = []
    for query in monitoring_queries():
        names = read_promql(query.expr)
        available = set(TARGET_LABELS)
        for metric in names.metrics - PROMETHEUS_SERIES:
            available |= registry.labels.get(metric, set())
        for label in names.grouping_labels - available:
            problems.append(f"{query.where}: no queried metric has label {label!r}")
    assert not problems, "\n".join(problems)
