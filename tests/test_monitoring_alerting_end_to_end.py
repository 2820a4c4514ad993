"""A real Prometheus, loading the real alerts.yml, scrapes a live exporter: when Revizto
revokes the refresh token, ReviztoReauthenticationRequired fires; when a person installs
a new access code, it stops."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.exporter import ExporterStack, StartStack
from tests.support.monitoring import (
    ALERT_RULES,
    PrometheusServer,
    host_port,
    prometheus_alert_rules,
    required_binary,
)
from tests.support.sandbox import SandboxFactory
from tests.support.token_service import token
from tests.support.waiting import wait_until

StartPrometheus = Callable[[ExporterStack], PrometheusServer]

REAUTH_ALERT = "ReviztoReauthenticationRequired"


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[StartPrometheus]:
    """Start Prometheus scraping a stack every second with the real alert rules."""
    binary = required_binary("prometheus")
    started: list[PrometheusServer] = []

    def start(stack: ExporterStack) -> PrometheusServer:
        workdir = tmp_path / f"prometheus{len(started)}"
        workdir.mkdir()
        targets = {
            "api": [host_port(stack.api_url)],
            "token_service": [host_port(stack.token_service.base_url)],
            "worker": [host_port(worker.metrics_url) for worker in stack.workers],
        }
        server = PrometheusServer(binary, workdir, targets, rule_files=[ALERT_RULES])
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_reauthentication_alert_fires_on_revoked_refresh_token_and_clears_after_new_code(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, start_prometheus: StartPrometheus
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    stack = exporter_factory(sandbox, workers=1)
    service = stack.token_service
    prometheus = start_prometheus(stack)

    # Given a healthy exporter that Prometheus scrapes, with every rule evaluated
    def rules_evaluated_without_error() -> bool:
        rules = [rule for group in prometheus.rule_groups() for rule in group["rules"]]
        assert all(rule["health"] != "err" for rule in rules), rules
        return len(rules) == len(prometheus_alert_rules()) and all(
            rule["health"] == "ok" for rule in rules
        )

    def scraped_healthy() -> bool:
        up = prometheus.query("up")
        reauth = prometheus.query("revizto_token_reauth_required")
        return (
            len(up) == 3
            and all(sample["value"][1] == "1" for sample in up)
            and [sample["value"][1] for sample in reauth] == ["0"]
        )

    wait_until(scraped_healthy, timeout=30, interval=0.5, what="all three jobs scraped")
    wait_until(rules_evaluated_without_error, timeout=15, interval=0.5, what="rules evaluated")
    firing = [alert for alert in prometheus.alerts() if alert["state"] == "firing"]
    assert firing == [], "a healthy exporter raises no alert"

    # When Revizto revokes the refresh token and a worker reports a 401
    generation = token(service)["generation"]
    sandbox.set_faults(revoke_refresh_tokens=True)
    rejected = service.report_rejection(generation)
    assert rejected.status_code == 503, rejected.text
    assert rejected.json()["type"].endswith("/reauth-required"), rejected.text

    # Then Prometheus fires the re-authentication alert, as critical
    (alert,) = wait_until(
        lambda: prometheus.firing(REAUTH_ALERT),
        timeout=30,
        interval=0.5,
        what=f"{REAUTH_ALERT} firing\n{prometheus.log()[-2000:]}",
    )
    assert alert["labels"]["severity"] == "critical"
    assert "python -m token_service auth --access-code" in alert["annotations"]["description"]

    # When a person installs a fresh access code
    sandbox.set_faults(revoke_refresh_tokens=False)
    installed = service.put_credentials({"access_code": sandbox.access_code()})
    assert installed.status_code == 200, installed.text
    assert installed.json()["reauth_required"] is False

    # Then the alert stops firing, and no other alert takes its place (the rejected
    # refresh must not page again as a refresh failure once the person has acted)
    wait_until(
        lambda: not prometheus.firing(REAUTH_ALERT),
        timeout=30,
        interval=0.5,
        what=f"{REAUTH_ALERT} no longer firing",
    )
    cleared_at = time.time()
    wait_until(
        lambda: prometheus.rules_evaluated_since(cleared_at + 2),
        timeout=15,
        interval=0.5,
        what="two more rule evaluations",
    )
    firing = [alert for alert in prometheus.alerts() if alert["state"] == "firing"]
    assert firing == [], "nothing fires once the credential is back"
    assert token(service)["generation"] > generation
