"""`python -m alerting render` turns the ALERT_* settings into an Alertmanager configuration
that the real `amtool` accepts, for every mix of receivers; secrets stay out of the file
and out of every message; a bad setting stops it with exit code 78, naming the variable."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.settings import AlertSettings
from tests.support.alertmanager import (
    ALERT_VARIABLES,
    Rendered,
    amtool_check_config,
    amtool_route,
    render_config,
)
from tests.support.monitoring import required_binary


def without(settings: dict[str, str], *names: str) -> dict[str, str]:
    return {name: value for name, value in settings.items() if name not in names}


SLACK_URL = "https://hooks.slack.com/services/T000/B000/slack-secret-part-5f3a"
SMTP_PASSWORD = "smtp-secret-password-9c1e"
WEBHOOK = {"ALERT_WEBHOOK_URL": "https://ops.example.com/hooks/alertmanager"}
SLACK = {"ALERT_SLACK_WEBHOOK_URL": SLACK_URL, "ALERT_SLACK_CHANNEL": "#revizto-ops"}
EMAIL = {
    "ALERT_EMAIL_TO": "ops@example.com, oncall@example.com",
    "ALERT_EMAIL_FROM": "alertmanager@example.com",
    "ALERT_SMTP_SMARTHOST": "smtp.example.com:587",
    "ALERT_SMTP_USERNAME": "alertmanager",
    "ALERT_SMTP_PASSWORD": SMTP_PASSWORD,
}
# Which receiver kinds each mix turns on.
MIXES: dict[str, tuple[dict[str, str], set[str]]] = {
    "none": ({}, set()),
    "webhook only": (WEBHOOK, {"webhook_configs"}),
    "slack only": (SLACK, {"slack_configs"}),
    "email without login": (
        without(EMAIL, "ALERT_SMTP_USERNAME", "ALERT_SMTP_PASSWORD"),
        {"email_configs"},
    ),
    "all three": (
        {**WEBHOOK, **SLACK, **EMAIL},
        {"webhook_configs", "slack_configs", "email_configs"},
    ),
}


def config_of(rendered: Rendered) -> dict[str, Any]:
    assert rendered.returncode == 0, rendered.stderr
    document: dict[str, Any] = yaml.safe_load(rendered.text())
    return document


def the_receiver(config: dict[str, Any]) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = config["receivers"]
    (receiver,) = receivers
    assert config["route"]["receiver"] == receiver["name"]
    return receiver


# --- every mix is valid for Alertmanager ------------------------------------------------------


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_amtool_accepts_the_config_and_routes_alerts_to_the_configured_receivers(
    mix: str, tmp_path: Path
) -> None:
    amtool = required_binary("amtool")
    settings, kinds = MIXES[mix]
    rendered = render_config(tmp_path / "alertmanager.yml", settings)
    receiver = the_receiver(config_of(rendered))

    checked = amtool_check_config(amtool, rendered.path)
    assert checked.returncode == 0, f"amtool check-config:\n{checked.stdout}\n{checked.stderr}"
    assert set(receiver) - {"name"} == kinds
    expected = "operators" if kinds else "null"
    for severity in ("critical", "warning"):
        labels = ("alertname=ReviztoApiDown", f"severity={severity}")
        assert amtool_route(amtool, rendered.path, *labels) == expected
    # Whoever is paged also hears when it is over.
    for kind in kinds:
        assert all(integration["send_resolved"] is True for integration in receiver[kind]), kind


def test_with_no_receiver_the_config_says_alerts_reach_nobody(tmp_path: Path) -> None:
    rendered = render_config(tmp_path / "alertmanager.yml", {})
    assert the_receiver(config_of(rendered)) == {"name": "null"}
    assert "No receiver is configured" in rendered.text()
    assert "no receiver configured" in rendered.stderr
    assert "ALERT_WEBHOOK_URL" in rendered.stderr


def test_empty_variables_are_off_and_give_the_default_timings(tmp_path: Path) -> None:
    """Compose passes every variable, `${VAR:-}` empty when .env does not set it."""
    rendered = render_config(tmp_path / "alertmanager.yml", dict.fromkeys(ALERT_VARIABLES, ""))
    config = config_of(rendered)
    assert the_receiver(config) == {"name": "null"}
    route = config["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "30s",
        "5m",
        "4h",
    )
    assert route["group_by"] == ["alertname"]


def test_timings_come_from_the_settings(tmp_path: Path) -> None:
    timings = {
        "ALERT_GROUP_WAIT": "10s",
        "ALERT_GROUP_INTERVAL": "1m",
        "ALERT_REPEAT_INTERVAL": "1d",
    }
    route = config_of(render_config(tmp_path / "alertmanager.yml", timings))["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "10s",
        "1m",
        "1d",
    )


def test_webhook_and_email_carry_the_settings(tmp_path: Path) -> None:
    receiver = the_receiver(config_of(render_config(tmp_path / "am.yml", {**WEBHOOK, **EMAIL})))
    assert receiver["webhook_configs"][0]["url"] == WEBHOOK["ALERT_WEBHOOK_URL"]
    (email,) = receiver["email_configs"]
    assert email["to"] == "ops@example.com, oncall@example.com"
    assert email["from"] == EMAIL["ALERT_EMAIL_FROM"]
    assert email["smarthost"] == EMAIL["ALERT_SMTP_SMARTHOST"]
    assert email["auth_username"] == "alertmanager"
    assert email["require_tls"] is True


# --- secrets ----------------------------------------------------------------------------------


def assert_secrets_by_file_reference(rendered: Rendered) -> None:
    receiver = the_receiver(config_of(rendered))
    text = rendered.text()
    for secret in (SLACK_URL, SMTP_PASSWORD, "slack-secret-part"):
        assert secret not in text, "a secret is inlined in the config"
        assert secret not in rendered.stdout + rendered.stderr, "a secret was printed"
    slack_file = Path(receiver["slack_configs"][0]["api_url_file"])
    password_file = Path(receiver["email_configs"][0]["auth_password_file"])
    for path, secret in ((slack_file, SLACK_URL), (password_file, SMTP_PASSWORD)):
        assert path.is_absolute(), "Alertmanager reads it wherever it runs"
        assert path.parent == rendered.path.parent.resolve()
        assert path.read_text().strip() == secret
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_secrets_are_written_to_private_files_the_config_refers_to(tmp_path: Path) -> None:
    rendered = render_config(tmp_path / "alertmanager.yml", {**SLACK, **EMAIL})
    assert_secrets_by_file_reference(rendered)


def test_secrets_may_come_from_files(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack").write_text(SLACK_URL + "\n")
    (secrets / "smtp").write_text(SMTP_PASSWORD + "\n")
    settings = {
        **without({**SLACK, **EMAIL}, "ALERT_SLACK_WEBHOOK_URL", "ALERT_SMTP_PASSWORD"),
        "ALERT_SLACK_WEBHOOK_URL_FILE": str(secrets / "slack"),
        "ALERT_SMTP_PASSWORD_FILE": str(secrets / "smtp"),
    }
    rendered = render_config(tmp_path / "out" / "alertmanager.yml", settings)
    assert_secrets_by_file_reference(rendered)


def test_a_receiver_switched_off_leaves_no_secret_behind(tmp_path: Path) -> None:
    out = tmp_path / "alertmanager.yml"
    config_of(render_config(out, {**SLACK, **EMAIL}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alertmanager.yml", "slack_webhook_url", "smtp_password"
    ]  # fmt: skip
    config_of(render_config(out, WEBHOOK))
    assert [p.name for p in tmp_path.iterdir()] == ["alertmanager.yml"]


def test_the_files_are_given_to_the_owner_named(tmp_path: Path) -> None:
    """In compose Alertmanager runs as another user than the renderer (see its service)."""
    owner = f"{os.getuid()}:{os.getgid()}"
    rendered = render_config(tmp_path / "alertmanager.yml", SLACK, "--owner", owner)
    config_of(rendered)
    for path in tmp_path.iterdir():
        assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid())
    refused = render_config(tmp_path / "alertmanager.yml", SLACK, "--owner", "nobody")
    assert refused.returncode == 2
    assert "UID:GID" in refused.stderr


# --- bad settings ------------------------------------------------------------------------------

BAD_SETTINGS = {
    "webhook not http": ({"ALERT_WEBHOOK_URL": "ftp://ops.example.com/hook"}, "ALERT_WEBHOOK_URL"),
    "webhook without host": ({"ALERT_WEBHOOK_URL": "https:///hook"}, "ALERT_WEBHOOK_URL"),
    "slack not https": (
        {"ALERT_SLACK_WEBHOOK_URL": "http://hooks.slack.com/services/T000/B000/slack-secret-part"},
        "ALERT_SLACK_WEBHOOK_URL",
    ),
    "slack not a URL": (
        {"ALERT_SLACK_WEBHOOK_URL": "slack-secret-part-pasted-alone"},
        "ALERT_SLACK_WEBHOOK_URL",
    ),
    "email without @": ({**EMAIL, "ALERT_EMAIL_TO": "ops.example.com"}, "ALERT_EMAIL_TO"),
    "sender without @": ({**EMAIL, "ALERT_EMAIL_FROM": "alertmanager"}, "ALERT_EMAIL_FROM"),
    "email without sender": (
        without(EMAIL, "ALERT_EMAIL_FROM"),
        "ALERT_EMAIL_FROM",
    ),
    "email without server": (
        without(EMAIL, "ALERT_SMTP_SMARTHOST"),
        "ALERT_SMTP_SMARTHOST",
    ),
    "server without port": (
        {**EMAIL, "ALERT_SMTP_SMARTHOST": "smtp.example.com"},
        "ALERT_SMTP_SMARTHOST",
    ),
    "password without user": (
        without(EMAIL, "ALERT_SMTP_USERNAME"),
        "ALERT_SMTP_USERNAME",
    ),
    "password twice": (
        {**EMAIL, "ALERT_SMTP_PASSWORD_FILE": "/run/secrets/smtp"},
        "ALERT_SMTP_PASSWORD_FILE",
    ),
    "unreadable password file": (
        {**without(EMAIL, "ALERT_SMTP_PASSWORD"), "ALERT_SMTP_PASSWORD_FILE": "/nonexistent/smtp"},
        "ALERT_SMTP_PASSWORD_FILE",
    ),
    "channel without slack": ({"ALERT_SLACK_CHANNEL": "#ops"}, "ALERT_SLACK_CHANNEL"),
    "TLS neither true nor false": (
        {**EMAIL, "ALERT_SMTP_REQUIRE_TLS": "maybe"},
        "ALERT_SMTP_REQUIRE_TLS",
    ),
    "duration without unit": ({"ALERT_GROUP_WAIT": "30"}, "ALERT_GROUP_WAIT"),
    "zero duration": ({"ALERT_GROUP_INTERVAL": "0s"}, "ALERT_GROUP_INTERVAL"),
    "duration in words": ({"ALERT_REPEAT_INTERVAL": "four hours"}, "ALERT_REPEAT_INTERVAL"),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_a_bad_setting_exits_78_naming_the_variable_and_no_secret(
    case: str, tmp_path: Path
) -> None:
    settings, variable = BAD_SETTINGS[case]
    rendered = render_config(tmp_path / "alertmanager.yml", settings)
    assert rendered.returncode == 78, rendered.stderr
    assert variable in rendered.stderr
    assert rendered.stderr.startswith("configuration error: ")
    for secret in ("slack-secret-part", SMTP_PASSWORD):
        assert secret not in rendered.stderr + rendered.stdout
    assert list(tmp_path.iterdir()) == [], "nothing is written for a bad setting"


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = AlertSettings.from_env({**SLACK, **EMAIL})
    assert SMTP_PASSWORD not in repr(settings)
    assert "slack-secret-part" not in repr(settings)
    assert json.dumps(settings.model_dump(mode="json")).count("**********") == 2


# --- Grafana's copies of the token alerts --------------------------------------------------------


def test_grafanas_copies_are_held_back_while_the_prometheus_alert_of_that_name_fires(
    tmp_path: Path,
) -> None:
    """Grafana hands its copies of the token alerts (label source=grafana) to Alertmanager;
    one page per problem, not two."""
    (rule,) = config_of(render_config(tmp_path / "am.yml", WEBHOOK))["inhibit_rules"]
    assert rule == {
        "source_matchers": ['source!="grafana"'],
        "target_matchers": ['source="grafana"'],
        "equal": ["alertname"],
    }
