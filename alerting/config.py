"""Alertmanager's configuration document, built from the ALERT_* settings.

One route sends every alert to one receiver, `operators`, holding each integration that
is on (webhook, Slack, e-mail); with none on, the route ends at the receiver `null`,
which delivers nothing, and Alertmanager still runs, shows the alerts and accepts
silences. Resolutions are sent too: the person paged must hear that it is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerting.settings import AlertSettings

OPERATORS = "operators"
NULL_RECEIVER = "null"

# The alerts of monitoring/prometheus/alerts.yml carry these annotations.
_SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
    "{{ end }}] {{ .CommonLabels.alertname }}"
)
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n"
    '{{ if eq .Status "firing" }}{{ .Annotations.description }}\n{{ end }}'
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)


@dataclass(frozen=True)
class SecretFiles:
    """Where the secrets are written, as Alertmanager will see the paths: it reads them
    itself (`api_url_file`, `auth_password_file`), so the configuration holds none."""

    slack_webhook_url: Path
    smtp_password: Path


def alertmanager_config(settings: AlertSettings, secrets: SecretFiles) -> dict[str, Any]:
    route: dict[str, Any] = {
        "receiver": OPERATORS if settings.receivers else NULL_RECEIVER,
        # One notification per alert name: the replicas of a service page once.
        "group_by": ["alertname"],
        "group_wait": settings.group_wait,
        "group_interval": settings.group_interval,
        "repeat_interval": settings.repeat_interval,
    }
    receiver: dict[str, Any] = {"name": route["receiver"]}
    if settings.webhook_url:
        receiver["webhook_configs"] = [{"url": settings.webhook_url, "send_resolved": True}]
    if settings.slack_webhook_url.get_secret_value():
        slack: dict[str, Any] = {
            "api_url_file": str(secrets.slack_webhook_url),
            "send_resolved": True,
            "title": _SLACK_TITLE,
            "text": _SLACK_TEXT,
        }
        if settings.slack_channel:
            slack["channel"] = settings.slack_channel
        receiver["slack_configs"] = [slack]
    if settings.email_to:
        email: dict[str, Any] = {
            "to": ", ".join(settings.email_to),
            "from": settings.email_from,
            "smarthost": settings.smtp_smarthost,
            "require_tls": settings.smtp_require_tls,
            "send_resolved": True,
        }
        if settings.smtp_username:
            email["auth_username"] = settings.smtp_username
        if settings.smtp_password.get_secret_value():
            email["auth_password_file"] = str(secrets.smtp_password)
        receiver["email_configs"] = [email]
    return {
        "route": route,
        "receivers": [receiver],
        "inhibit_rules": [GRAFANA_TWIN_INHIBITION],
    }


# Grafana evaluates copies of the token alerts (monitoring/grafana/provisioning/alerting/
# token-alerts.yml, labelled source="grafana") and hands them to this Alertmanager. While
# the Prometheus rule of the same name fires, the copy is held back, so a person is paged
# once; the copy still gets through when Prometheus' own rule cannot fire.
GRAFANA_TWIN_INHIBITION: dict[str, Any] = {
    "source_matchers": ['source!="grafana"'],
    "target_matchers": ['source="grafana"'],
    "equal": ["alertname"],
}
