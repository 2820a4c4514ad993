"""The monitoring files, the Prometheus tools that check them, and a small PromQL reader.

The reader is not a PromQL parser: it finds what a query names (metrics, functions,
grouping labels, selectors with their matchers), which is what the tests need to prove
that every query asks for something the exporter really exposes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ManagedProcess

MONITORING_DIR = REPO_ROOT / "monitoring"
PROMETHEUS_DIR = MONITORING_DIR / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERT_RULES = PROMETHEUS_DIR / "alerts.yml"
ALERT_RULE_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = MONITORING_DIR / "grafana"
GRAFANA_DATASOURCE = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_DASHBOARD_PROVIDER = GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml"
GRAFANA_ALERT_RULES = GRAFANA_DIR / "provisioning" / "alerting" / "token-alerts.yml"
DASHBOARD = GRAFANA_DIR / "dashboards" / "revizto-exporter.json"

DATASOURCE_UID = "prometheus"
RUNBOOK_BASE = "https://github.com/revizto-exporter/revizto-data-exporter#"

# The alerts the operators' runbook (README `## Runbook`) has a section for.
TOKEN_ALERTS = (
    "ReviztoReauthenticationRequired",
    "ReviztoTokenRefreshFailing",
    "ReviztoAccessTokenNearExpiry",
    "ReviztoRefreshTokenStale",
    "ReviztoTokenPersistFailing",
    "ReviztoCredentialAgeHigh",
)
REQUIRED_ALERTS = (
    *TOKEN_ALERTS,
    "ReviztoTokenServiceDown",
    "ReviztoExportJobsFailing",
    "ReviztoExportBacklog",
    "ReviztoExportStalled",
    "ReviztoApiDown",
    "ReviztoWorkerDown",
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# The Debian package of each tool that is not in `prometheus` itself.
_PACKAGES = {
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


def required_binary(name: str) -> str:
    """The path of a Prometheus tool; skipped where it is missing, except in CI (`CI` set),
    where a missing tool is a failure: .ci/run installs Debian's `prometheus` and
    `prometheus-alertmanager` packages."""
    found = shutil.which(name)
    if found is None and os.access(f"/usr/bin/{name}", os.X_OK):
        found = f"/usr/bin/{name}"  # Debian's package, when /usr/bin is not on PATH
    if found is not None:
        return found
    package = _PACKAGES.get(name, "prometheus")
    reason = f"{name} not found (install Debian's `{package}` package; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run every monitoring test")
    pytest.skip(reason)


# --- where the queries are ------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it lives, for failure messages."""

    where: str
    expr: str


def prometheus_alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERT_RULES)["groups"] for rule in group["rules"]]


def grafana_alert_rules() -> list[dict[str, Any]]:
    document = load_yaml(GRAFANA_ALERT_RULES)
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = load_json(DASHBOARD)["panels"]
    return panels


def monitoring_queries() -> list[Query]:
    """Every PromQL expression of the alert rules, the dashboard and the Grafana rules."""
    queries = [Query(f"alerts.yml {r['alert']}", r["expr"]) for r in prometheus_alert_rules()]
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            where = f"dashboard panel {panel['title']!r} {target.get('refId')}"
            queries.append(Query(where, target["expr"]))
    for rule in grafana_alert_rules():
        for node in rule["data"]:
            if node["datasourceUid"] == DATASOURCE_UID:
                where = f"grafana rule {rule['title']} {node['refId']}"
                queries.append(Query(where, node["model"]["expr"]))
    return queries


def monitoring_files() -> Iterator[Path]:
    for path in sorted(MONITORING_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".yml", ".yaml", ".json"):
            yield path


# --- reading PromQL -------------------------------------------------------------------------

# Aggregation operators, then the functions of Prometheus 2.42.
_FUNCTION_NAMES = """
sum min max avg group stddev stdvar count count_values bottomk topk quantile
abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
day_of_year days_in_month delta deriv exp floor histogram_count histogram_fraction
histogram_quantile histogram_sum holt_winters hour idelta increase irate label_join
label_replace ln log2 log10 minute month predict_linear rate resets round scalar sgn sort
sort_desc sqrt time timestamp vector year avg_over_time min_over_time max_over_time
sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time
last_over_time present_over_time acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh
deg pi rad
"""
_KEYWORDS = """
and or unless bool offset by without on ignoring group_left group_right atan2 inf nan start end
"""
PROMQL_FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
PROMQL_KEYWORDS = frozenset(_KEYWORDS.split())
# Prometheus' own series that the rules may use; everything else must be ours.
PROMETHEUS_SERIES = frozenset({"up"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(\x00\d+\x00)")
_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*|\d[\w.]*|\S")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass
class PromQLNames:
    """What one expression names."""

    metrics: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    unknown_functions: set[str] = field(default_factory=set)
    grouping_labels: set[str] = field(default_factory=set)
    selectors: list[tuple[str, list[Matcher]]] = field(default_factory=list)


def read_promql(expr: str) -> PromQLNames:
    """The metric names, functions, grouping labels and selectors of a PromQL expression
    (Grafana's `$__rate_interval`-style variables allowed)."""
    names = PromQLNames()
    strings: list[str] = []

    def hide_string(match: re.Match[str]) -> str:
        strings.append(match.group(0)[1:-1])
        return f"\x00{len(strings) - 1}\x00"

    text = _STRING.sub(hide_string, expr)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    for match in _SELECTOR.finditer(text):
        matchers = [
            Matcher(m.group(1), m.group(2), strings[int(m.group(3).strip("\x00"))])
            for m in _MATCHER.finditer(match.group(2))
        ]
        names.selectors.append((match.group(1) or "", matchers))
    text = _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text)
    for match in _GROUPING.finditer(text):
        names.grouping_labels |= {label.strip() for label in match.group(1).split(",") if label}
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    tokens = _TOKEN.findall(text)
    for index, token in enumerate(tokens):
        if not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token):
            continue
        if token in PROMQL_KEYWORDS:
            continue  # `and (`, `unless (`: binary operators, not calls
        if index + 1 < len(tokens) and tokens[index + 1] == "(":
            (names.functions if token in PROMQL_FUNCTIONS else names.unknown_functions).add(token)
        else:
            names.metrics.add(token)
    return names


METRIC_TOKEN = re.compile(r"\brevizto_[a-z0-9_]+")


# --- the exporter's registered metrics, from live scrapes ------------------------------------


@dataclass
class Registry:
    """Sample names (as Prometheus stores them) with their label names and seen values."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    # The Content-Type each source answered its scrape with.
    content_types: dict[str, str] = field(default_factory=dict)

    def add_scrape(self, source: str, text: str, content_type: str = "") -> None:
        if content_type:
            self.content_types[source] = content_type
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.labels.setdefault(sample.name, set()).update(sample.labels)
                self.source.setdefault(sample.name, source)
                for label, value in sample.labels.items():
                    self.values.setdefault((sample.name, label), set()).add(value)


# --- a real Prometheus server -----------------------------------------------------------------


class PrometheusServer:
    """`prometheus` on a free port, scraping the given targets every second and evaluating
    the given rule files every second, sending alerts to `alertmanagers` (host:port) if
    any; its data lives in `workdir`."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        targets: dict[str, list[str]],
        rule_files: list[Path],
        interval: str = "1s",
        alertmanagers: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addresses}]}
                for job, addresses in targets.items()
            ],
        }
        if alertmanagers:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]
            }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.process = ManagedProcess("prometheus", argv, workdir)
        self.process.wait_http_ok(f"{self.base_url}/-/ready", timeout=60)

    def _get(self, path: str, **params: str) -> Any:
        reply = requests.get(self.base_url + path, params=params, timeout=10)
        assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text[:500]}"
        body = reply.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/api/v1/query", query=expr)["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Active (pending or firing) alerts."""
        alerts: list[dict[str, Any]] = self._get("/api/v1/alerts")["alerts"]
        return alerts

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        return [
            alert
            for alert in self.alerts()
            if alert["labels"]["alertname"] == alertname and alert["state"] == "firing"
        ]

    def active_alertmanagers(self) -> list[dict[str, Any]]:
        """The Alertmanagers Prometheus sends its alerts to."""
        found: list[dict[str, Any]] = self._get("/api/v1/alertmanagers")["activeAlertmanagers"]
        return found

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._get("/api/v1/rules")["groups"]
        return groups

    def rules_evaluated_since(self, moment: float) -> bool:
        """Every rule group has been evaluated after `moment` (unix seconds)."""
        groups = self.rule_groups()
        return bool(groups) and all(
            parse_rfc3339(group["lastEvaluation"]) > moment for group in groups
        )

    def log(self) -> str:
        return self.process.output()

    def stop(self) -> None:
        self.process.stop()


def parse_rfc3339(text: str) -> float:
    """Prometheus' `2024-05-01T10:00:00.123456789Z` → unix seconds."""
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?Z", text)
    assert match, text
    whole = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC).timestamp()
    return whole + float(f"0.{match.group(2) or 0}")


def host_port(url: str) -> str:
    """`http://127.0.0.1:8081/metrics` → `127.0.0.1:8081`."""
    match = re.match(r"https?://([^/]+)", url)
    assert match, url
    return match.group(1)
