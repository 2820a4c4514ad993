"""Grafana provisioning: the datasource, the dashboard provider, the dashboard itself and
the Grafana-managed token alert rules have the shape Grafana's file provisioning loads,
and agree with each other and with the Prometheus rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.monitoring import (
    DASHBOARD,
    DATASOURCE_UID,
    GRAFANA_ALERT_RULES,
    GRAFANA_DASHBOARD_PROVIDER,
    GRAFANA_DATASOURCE,
    RUNBOOK_BASE,
    TOKEN_ALERTS,
    dashboard_panels,
    grafana_alert_rules,
    load_json,
    load_yaml,
    prometheus_alert_rules,
)

GRID_WIDTH = 24
NO_DATA_STATES = {"NoData", "Alerting", "OK", "KeepLast"}
EXEC_ERROR_STATES = {"Error", "Alerting", "OK", "KeepLast"}
EXPRESSION_TYPES = {"math", "reduce", "resample", "threshold", "classic_conditions"}
DURATION = re.compile(r"^(\d+[smhdw])+$")


# --- datasource and dashboard provider ------------------------------------------------------


def test_datasource_is_prometheus_at_the_compose_address_with_uid_prometheus() -> None:
    document = load_yaml(GRAFANA_DATASOURCE)
    assert document["apiVersion"] == 1
    (datasource,) = document["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["access"] == "proxy"


def test_dashboard_provider_reads_the_mounted_dashboards_directory() -> None:
    document = load_yaml(GRAFANA_DASHBOARD_PROVIDER)
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# --- the dashboard ----------------------------------------------------------------------------


def test_dashboard_is_valid_json_with_a_stable_uid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())  # raises on invalid JSON
    assert dashboard["uid"] == "revizto-exporter"
    assert dashboard["title"]
    assert dashboard["panels"]


def test_every_panel_queries_the_prometheus_datasource() -> None:
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel.get("targets"), f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE_UID
            assert target["expr"].strip(), panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping() -> None:
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= GRID_WIDTH, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells


# Each thing the on-call needs to see, and a query fragment that shows it.
DASHBOARD_MUST_SHOW = {
    "token expiry countdown": "revizto_access_token_expiry_timestamp_seconds) - time()",
    "refresh outcomes": "by (trigger, outcome) (increase(revizto_token_refresh_total",
    "refresh failures by reason": "by (reason) (increase(revizto_token_refresh_failures_total",
    "re-auth state": "revizto_token_reauth_required",
    "lock wait": "revizto_token_lock_wait_seconds_bucket",
    "export jobs by outcome": "by (outcome) (increase(revizto_export_jobs_total",
    "records per resource": "by (resource) (rate(revizto_export_records_total",
    "Revizto API latency": "revizto_api_request_duration_seconds_bucket",
    "Revizto API status codes": "by (status) (rate(revizto_api_requests_total",
    "queue backlog": "revizto_export_queue_depth",
}


@pytest.mark.parametrize("topic", sorted(DASHBOARD_MUST_SHOW))
def test_dashboard_shows(topic: str) -> None:
    queries = [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]
    fragment = DASHBOARD_MUST_SHOW[topic]
    assert any(fragment in query for query in queries), f"no panel shows {topic}"


# --- Grafana-managed alert rules ----------------------------------------------------------------


def test_grafana_alert_file_has_the_provisioning_shape() -> None:
    document = load_yaml(GRAFANA_ALERT_RULES)
    assert document["apiVersion"] == 1
    assert document["groups"]
    for group in document["groups"]:
        assert isinstance(group["orgId"], int)
        assert group["name"]
        assert group["folder"]
        assert DURATION.match(group["interval"]), group["interval"]
        assert group["rules"]
    uids = [rule["uid"] for rule in grafana_alert_rules()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("rule", grafana_alert_rules(), ids=lambda rule: rule["title"])
def test_grafana_alert_rule_is_well_formed(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", rule["uid"]), rule["uid"]
    assert DURATION.match(rule["for"]), rule["for"]
    assert rule["noDataState"] in NO_DATA_STATES
    assert rule["execErrState"] in EXEC_ERROR_STATES
    nodes = {node["refId"]: node for node in rule["data"]}
    assert len(nodes) == len(rule["data"]), "duplicate refId"
    assert rule["condition"] in nodes
    for ref_id, node in nodes.items():
        model = node["model"]
        assert model["refId"] == ref_id
        if node["datasourceUid"] == "__expr__":
            assert model["type"] in EXPRESSION_TYPES, model["type"]
            # An expression may only use nodes of this rule.
            used = set(re.findall(r"\$([A-Za-z0-9_]+)", model["expression"]))
            if model["type"] != "math":
                used = {model["expression"]}
            assert used, model["expression"]
            assert used <= set(nodes) - {ref_id}, model["expression"]
        else:
            assert node["datasourceUid"] == DATASOURCE_UID
            assert model["expr"].strip()
            time_range = node["relativeTimeRange"]
            assert time_range["from"] > time_range["to"] >= 0
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert annotations["summary"]
    assert annotations["description"]
    assert annotations["runbook_url"] == RUNBOOK_BASE + rule["title"].lower()


def test_grafana_rules_cover_the_token_alerts_with_prometheus_names_and_severities() -> None:
    grafana = {rule["title"]: rule for rule in grafana_alert_rules()}
    prometheus = {rule["alert"]: rule for rule in prometheus_alert_rules()}
    assert set(grafana) == set(TOKEN_ALERTS)
    for name, rule in grafana.items():
        assert rule["labels"]["severity"] == prometheus[name]["labels"]["severity"], name
        assert seconds(rule["for"]) == seconds(prometheus[name].get("for", "0s")), name


def test_grafana_rules_link_to_dashboard_panels_that_exist() -> None:
    dashboard = load_json(DASHBOARD)
    panel_ids = {panel["id"] for panel in dashboard["panels"]}
    for rule in grafana_alert_rules():
        assert rule["dashboardUid"] == dashboard["uid"], rule["title"]
        assert rule["panelId"] in panel_ids, rule["title"]


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", duration))
