"""Alerts reach a human: a real Prometheus with the real alerts.yml scrapes a live exporter
and hands its alerts to a real Alertmanager, configured by `python -m alerting render`,
whose webhook receiver is an HTTP server of this test. Revizto revokes the refresh token:
the re-authentication page is delivered; a person installs a new access code: its
resolution is delivered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.alertmanager import AlertmanagerServer, render_config
from tests.support.exporter import StartStack
from tests.support.monitoring import ALERT_RULES, PrometheusServer, host_port, required_binary
from tests.support.sandbox import SandboxFactory
from tests.support.token_service import token
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import WebhookReceiver, new_webhook_secret

REAUTH_ALERT = "ReviztoReauthenticationRequired"
# Alertmanager's route timings, shortened from minutes so the test takes seconds.
FAST_ROUTE = {
    "ALERT_GROUP_WAIT": "1s",
    "ALERT_GROUP_INTERVAL": "1s",
    "ALERT_REPEAT_INTERVAL": "1h",
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    # Alertmanager does not sign its webhooks; the receiver just records what arrives.
    server = WebhookReceiver(new_webhook_secret())
    yield server
    server.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: WebhookReceiver) -> Iterator[AlertmanagerServer]:
    binary = required_binary("prometheus-alertmanager")
    workdir = tmp_path / "alertmanager"
    settings = {"ALERT_WEBHOOK_URL": receiver.url, **FAST_ROUTE}
    rendered = render_config(workdir / "alertmanager.yml", settings)
    assert rendered.returncode == 0, rendered.stderr
    server = AlertmanagerServer(binary, workdir, rendered.path)
    yield server
    server.stop()


def notifications(receiver: WebhookReceiver, alertname: str, status: str) -> list[Any]:
    """Alertmanager's webhook payloads (version 4) for one alert name and status."""
    payloads = [delivery.payload() for delivery in receiver.deliveries]
    return [
        payload
        for payload in payloads
        if payload["status"] == status and payload["commonLabels"].get("alertname") == alertname
    ]


@pytest.mark.slow
def test_reauthentication_page_and_its_resolution_are_delivered_to_the_webhook(
    tmp_path: Path,
    sandbox_factory: SandboxFactory,
    exporter_factory: StartStack,
    alertmanager: AlertmanagerServer,
    receiver: WebhookReceiver,
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    stack = exporter_factory(sandbox, workers=1)
    service = stack.token_service
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    prometheus = PrometheusServer(
        required_binary("prometheus"),
        workdir,
        targets={
            "api": [host_port(stack.api_url)],
            "token_service": [host_port(service.base_url)],
            "worker": [host_port(worker.metrics_url) for worker in stack.workers],
        },
        rule_files=[ALERT_RULES],
        alertmanagers=[alertmanager.address],
    )
    try:
        # Given a healthy exporter, scraped, with Prometheus talking to Alertmanager
        def healthy_and_connected() -> bool:
            up = prometheus.query("up")
            reauth = prometheus.query("revizto_token_reauth_required")
            discovered = prometheus.active_alertmanagers()
            return (
                len(up) == 3
                and all(sample["value"][1] == "1" for sample in up)
                and [sample["value"][1] for sample in reauth] == ["0"]
                and len(discovered) == 1
            )

        wait_until(healthy_and_connected, timeout=30, interval=0.5, what="healthy and connected")
        assert alertmanager.alerts() == [], "a healthy exporter raises no alert"

        # When Revizto revokes the refresh token and a worker reports a 401
        generation = token(service)["generation"]
        sandbox.set_faults(revoke_refresh_tokens=True)
        rejected = service.report_rejection(generation)
        assert rejected.status_code == 503, rejected.text

        # Then Alertmanager delivers the page to the webhook, firing, with the runbook
        (page,) = wait_until(
            lambda: notifications(receiver, REAUTH_ALERT, "firing"),
            timeout=120,
            interval=0.25,
            what=f"{REAUTH_ALERT} delivered firing\n{alertmanager.log()[-2000:]}",
        )
        (alert,) = page["alerts"]
        assert page["receiver"] == "operators"
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"].endswith("#reviztoreauthenticationrequired")
        assert "python -m token_service auth --access-code" in alert["annotations"]["description"]

        # When a person installs a fresh access code
        sandbox.set_faults(revoke_refresh_tokens=False)
        installed = service.put_credentials({"access_code": sandbox.access_code()})
        assert installed.status_code == 200, installed.text

        # Then the resolution is delivered too
        (resolution,) = wait_until(
            lambda: notifications(receiver, REAUTH_ALERT, "resolved"),
            timeout=120,
            interval=0.25,
            what=f"{REAUTH_ALERT} delivered resolved\n{alertmanager.log()[-2000:]}",
        )
        assert [a["status"] for a in resolution["alerts"]] == ["resolved"]
        assert len(notifications(receiver, REAUTH_ALERT, "firing")) == 1, "paged once"
        delivered = {d.payload()["commonLabels"]["alertname"] for d in receiver.deliveries}
        assert delivered == {REAUTH_ALERT}, "nothing else paged along the way"
    finally:
        prometheus.stop()
