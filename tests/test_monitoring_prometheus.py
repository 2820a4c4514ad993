"""Prometheus configuration and alert rules: promtool accepts them, the unit tests in
alerts_test.yml pass, and every alert tells the operator what to do."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.monitoring import (
    ALERT_RULE_TESTS,
    ALERT_RULES,
    PROMETHEUS_CONFIG,
    REQUIRED_ALERTS,
    RUNBOOK_BASE,
    load_yaml,
    prometheus_alert_rules,
    required_binary,
)
from tests.support.processes import REPO_ROOT


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = required_binary("promtool")
    return subprocess.run(
        [binary, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_promtool_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"promtool failed:\n{done.stdout}\n{done.stderr}"


def relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


# --- promtool -------------------------------------------------------------------------------


def test_prometheus_config_passes_promtool_check() -> None:
    assert_promtool_ok(promtool("check", "config", relative(PROMETHEUS_CONFIG)))


def test_alert_rules_pass_promtool_check() -> None:
    done = promtool("check", "rules", relative(ALERT_RULES))
    assert_promtool_ok(done)
    assert f"SUCCESS: {len(prometheus_alert_rules())} rules found" in done.stdout


def test_alert_rule_unit_tests_pass_promtool() -> None:
    assert_promtool_ok(promtool("test", "rules", relative(ALERT_RULE_TESTS)))


# --- the scrape configuration ---------------------------------------------------------------


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}


def test_alerts_go_to_the_compose_alertmanager() -> None:
    (alertmanager,) = load_yaml(PROMETHEUS_CONFIG)["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"] == [{"targets": ["alertmanager:9093"]}]


def test_scrape_config_names_the_jobs_the_alerts_select_on() -> None:
    assert set(scrape_jobs()) == {"api", "token_service", "worker"}
    assert load_yaml(PROMETHEUS_CONFIG)["rule_files"] == ["alerts.yml"]


def test_scrape_config_finds_every_worker_replica_through_dns() -> None:
    # `docker compose up --scale worker=N` gives N containers behind one DNS name.
    (discovery,) = scrape_jobs()["worker"]["dns_sd_configs"]
    assert discovery["names"] == ["worker"]
    assert discovery["type"] == "A"
    assert discovery["port"] == 9808
    assert scrape_jobs()["worker"].get("metrics_path", "/metrics") == "/metrics"


def test_scrape_config_reaches_api_and_token_service_on_their_compose_ports() -> None:
    jobs = scrape_jobs()
    assert jobs["api"]["static_configs"] == [{"targets": ["api:8080"]}]
    (discovery,) = jobs["token_service"]["dns_sd_configs"]
    assert (discovery["names"], discovery["type"], discovery["port"]) == (
        ["token_service"],
        "A",
        8081,
    )


# --- what the alerts say ----------------------------------------------------------------------


def rules_by_name() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in prometheus_alert_rules()}


def test_every_required_alert_is_defined_once() -> None:
    names = [rule["alert"] for rule in prometheus_alert_rules()]
    assert len(names) == len(set(names)), names
    assert set(REQUIRED_ALERTS) <= set(names)


@pytest.mark.parametrize("alertname", REQUIRED_ALERTS)
def test_alert_carries_severity_summary_description_and_runbook(alertname: str) -> None:
    rule = rules_by_name()[alertname]
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert len(annotations["description"]) > 200, "the description must say what to do"
    # README `## Runbook` has `### <AlertName>`; GitHub's anchor is the lower-cased name.
    assert annotations["runbook_url"] == RUNBOOK_BASE + alertname.lower()


# What an operator must be told to do, per alert.
OPERATOR_INSTRUCTIONS = {
    "ReviztoReauthenticationRequired": [
        "python -m token_service auth --access-code CODE",
        "PUT /v1/credentials",
        "python -m token_service status",
    ],
    "ReviztoTokenRefreshFailing": ["python -m token_service status", "reason"],
    "ReviztoAccessTokenNearExpiry": ["python -m token_service status"],
    "ReviztoRefreshTokenStale": ["POST /v1/token/refresh", "python -m token_service status"],
    "ReviztoTokenPersistFailing": ["APPSETTINGS_PATH", "writable", "ls -l appsettings.json"],
    "ReviztoCredentialAgeHigh": [
        "python -m token_service auth --access-code CODE",
        "PUT /v1/credentials",
        "python -m token_service status",
    ],
    "ReviztoTokenServiceDown": ["/readyz", "python -m token_service status"],
    "ReviztoExportJobsFailing": ["GET /v1/exports?state=failed"],
    "ReviztoExportBacklog": ["docker compose up -d --scale worker=N"],
    "ReviztoExportStalled": ["stalled unit requeued", "docker compose logs worker"],
    "ReviztoApiDown": ["/readyz", "docker compose up -d api"],
    "ReviztoWorkerDown": ["docker compose logs worker", "docker compose up -d --scale worker=N"],
}


@pytest.mark.parametrize("alertname", sorted(OPERATOR_INSTRUCTIONS))
def test_alert_description_names_the_commands_that_fix_it(alertname: str) -> None:
    description = rules_by_name()[alertname]["annotations"]["description"]
    missing = [text for text in OPERATOR_INSTRUCTIONS[alertname] if text not in description]
    assert not missing, f"{alertname} description lacks {missing}"


def runbook_sections() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    runbook = readme.split("\n## Runbook\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### (\S+)$", runbook, re.MULTILINE)


def test_the_readme_runbook_has_one_section_per_alert() -> None:
    sections = runbook_sections()
    assert len(sections) == len(set(sections)), sections
    assert set(sections) == set(rules_by_name())


def test_reauthentication_is_critical_and_fires_without_delay() -> None:
    # The re-auth state persists until a person acts, and the end-to-end test relies on
    # the alert firing within seconds.
    rule = rules_by_name()["ReviztoReauthenticationRequired"]
    assert rule["labels"]["severity"] == "critical"
    assert rule.get("for", "0m") in ("0m", "0s")


def test_every_alert_has_unit_tests_that_fire_it_and_keep_it_quiet() -> None:
    suite = load_yaml(ALERT_RULE_TESTS)
    assert suite["rule_files"] == [ALERT_RULES.name]
    fires: set[str] = set()
    quiet: set[str] = set()
    for test in suite["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = set(rules_by_name())
    assert names - fires == set(), "alerts never shown firing in alerts_test.yml"
    assert names - quiet == set(), "alerts never shown staying quiet in alerts_test.yml"
