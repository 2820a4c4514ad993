"""Grafana's notification provisioning, checked without a Grafana binary: its alerts go to
the compose Alertmanager and nowhere else, its copies of the token alerts are marked so
Alertmanager can hold them back, and every variable it interpolates is given to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from alerting.config import GRAFANA_TWIN_INHIBITION
from tests.support.monitoring import GRAFANA_DIR, grafana_alert_rules, load_yaml
from tests.support.processes import REPO_ROOT

PROVISIONING = GRAFANA_DIR / "provisioning"
NOTIFICATIONS = PROVISIONING / "alerting" / "notifications.yml"
ALERTMANAGER_DATASOURCE = PROVISIONING / "datasources" / "alertmanager.yml"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ALERTMANAGER_URL = "http://alertmanager:9093"
DURATION = re.compile(r"^(\d+[smhdw])+$")
# What Grafana's provisioning expands: $VAR and ${VAR}; $$ is a literal dollar.
_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return services


def test_the_only_contact_point_is_the_compose_alertmanager() -> None:
    document = load_yaml(NOTIFICATIONS)
    assert document["apiVersion"] == 1
    (contact_point,) = document["contactPoints"]
    (receiver,) = contact_point["receivers"]
    assert receiver["type"] == "prometheus-alertmanager"
    assert receiver["settings"]["url"] == ALERTMANAGER_URL
    assert receiver.get("disableResolveMessage") is False, "Alertmanager must hear 'resolved'"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", receiver["uid"])


def test_the_notification_policy_sends_everything_to_that_contact_point() -> None:
    document = load_yaml(NOTIFICATIONS)
    names = {point["name"] for point in document["contactPoints"]}
    (policy,) = document["policies"]
    assert policy["orgId"] == 1
    assert policy["receiver"] in names
    assert not policy.get("routes"), "no other way out of Grafana"
    assert not policy.get("matchers"), "the root policy takes every alert"
    for timing in ("group_wait", "group_interval", "repeat_interval"):
        assert DURATION.match(policy[timing]), timing


def test_alertmanager_is_a_datasource_that_does_not_take_grafanas_alerts_a_second_way() -> None:
    (datasource,) = load_yaml(ALERTMANAGER_DATASOURCE)["datasources"]
    assert datasource["type"] == "alertmanager"
    assert datasource["url"] == ALERTMANAGER_URL
    assert datasource["jsonData"]["implementation"] == "prometheus"
    assert datasource["jsonData"]["handleGrafanaManagedAlerts"] is False


def test_the_alertmanager_address_is_the_compose_service_and_its_port() -> None:
    alertmanager = compose_services()["alertmanager"]
    host, _, port = ALERTMANAGER_URL.removeprefix("http://").partition(":")
    assert host == "alertmanager"
    assert any(str(mapping).endswith(f":{port}") for mapping in alertmanager["ports"])
    checked = " ".join(alertmanager["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/" in checked, "the health check asks the port Grafana uses"


def test_grafanas_copies_carry_the_label_alertmanager_holds_back() -> None:
    (target,) = GRAFANA_TWIN_INHIBITION["target_matchers"]
    matcher = re.fullmatch(r'(\w+)="(\w+)"', target)
    assert matcher, target
    label, value = matcher.groups()
    for rule in grafana_alert_rules():
        assert rule["labels"].get(label) == value, rule["title"]
    assert GRAFANA_TWIN_INHIBITION["equal"] == ["alertname"]


def interpolated_files() -> list[Path]:
    """Provisioning files whose values Grafana expands (alert rule models and
    annotations are left as they are, so token-alerts.yml's `$A` stays math)."""
    return [*sorted((PROVISIONING / "datasources").glob("*.yml")), NOTIFICATIONS]


def test_every_variable_grafana_would_expand_is_set_for_it() -> None:
    environment = compose_services()["grafana"].get("environment") or {}
    for path in interpolated_files():
        text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
        for braced, bare in _VARIABLE.findall(text):
            variable = braced or bare
            assert variable in environment, f"{path.name} uses ${variable}, unset for grafana"
