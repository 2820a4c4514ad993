"""The ALERT_* settings: where alerts go and how often, read from the environment.

Every receiver is optional; an empty one is off. Two values are secrets, the Slack webhook
URL (the URL itself is the credential) and the SMTP password: each may come from its
variable or from a file named by `<VARIABLE>_FILE` (Docker secrets), and no message ever
repeats them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic import field_validator as check

from service_common.configuration_error import ConfigurationError
from service_common.secret_files import read_secret_file

# Alertmanager's duration syntax (Prometheus' model.Duration), at least one unit.
_DURATION = re.compile(r"(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")
# Deliberately loose: one @, something on both sides, no spaces or separators.
_EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5}")
_SECRETS = ("ALERT_SLACK_WEBHOOK_URL", "ALERT_SMTP_PASSWORD")


class AlertSettingsProblem(ValueError):
    """A setting is wrong; the message names the variable, never a secret's value."""


def _is_url(value: str, schemes: tuple[str, ...]) -> bool:
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname)


class AlertSettings(BaseModel):
    """The settings, by their variable names (`AlertSettings.from_env(os.environ)`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    webhook_url: str = Field("", alias="ALERT_WEBHOOK_URL")
    slack_webhook_url: SecretStr = Field(SecretStr(""), alias="ALERT_SLACK_WEBHOOK_URL")
    slack_channel: str = Field("", alias="ALERT_SLACK_CHANNEL")
    email_to: tuple[str, ...] = Field((), alias="ALERT_EMAIL_TO")
    email_from: str = Field("", alias="ALERT_EMAIL_FROM")
    smtp_smarthost: str = Field("", alias="ALERT_SMTP_SMARTHOST")
    smtp_username: str = Field("", alias="ALERT_SMTP_USERNAME")
    smtp_password: SecretStr = Field(SecretStr(""), alias="ALERT_SMTP_PASSWORD")
    # A local relay on port 25 may not offer STARTTLS; everything else should.
    smtp_require_tls: bool = Field(True, alias="ALERT_SMTP_REQUIRE_TLS")
    # Alertmanager's route timings: wait to batch a new group, between updates of a
    # group, and before repeating a notification that is still firing.
    group_wait: str = Field("30s", alias="ALERT_GROUP_WAIT")
    group_interval: str = Field("5m", alias="ALERT_GROUP_INTERVAL")
    repeat_interval: str = Field("4h", alias="ALERT_REPEAT_INTERVAL")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        values = {name: value for name, value in env.items() if name.startswith("ALERT_")}
        for secret in _SECRETS:
            values.pop(f"{secret}_FILE", None)
            values[secret] = _secret(env, secret)
        # Empty means "not set": the defaults apply (compose passes `${VAR:-}`).
        values = {name: value for name, value in values.items() if value.strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise AlertSettingsProblem(_describe(exc)) from None

    @check("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        value = value.strip()
        if value and not _is_url(value, ("http", "https")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @check("slack_webhook_url")
    @classmethod
    def _slack_webhook_url(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and not _is_url(secret, ("https",)):
            raise ValueError("must be an https:// URL (Slack's incoming webhook URL)")
        return SecretStr(secret)

    @check("email_to", mode="before")
    @classmethod
    def _email_to(cls, value: Any) -> tuple[str, ...]:
        addresses = tuple(a.strip() for a in str(value).split(",") if a.strip())
        for address in addresses:
            if not _EMAIL.fullmatch(address):
                raise ValueError(f"must be comma-separated e-mail addresses, got {address!r}")
        return addresses

    @check("email_from")
    @classmethod
    def _email_from(cls, value: str) -> str:
        value = value.strip()
        if value and not _EMAIL.fullmatch(value):
            raise ValueError(f"must be an e-mail address, got {value!r}")
        return value

    @check("smtp_smarthost")
    @classmethod
    def _smtp_smarthost(cls, value: str) -> str:
        value = value.strip()
        if value and not _HOST_PORT.fullmatch(value):
            raise ValueError(f"must be host:port of the SMTP server, got {value!r}")
        return value

    @check("smtp_require_tls", mode="before")
    @classmethod
    def _smtp_require_tls(cls, value: Any) -> bool:
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ValueError(f"must be true or false, got {value!r}")
        return text == "true"

    @check("group_wait", "group_interval", "repeat_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        value = value.strip()
        if not _DURATION.fullmatch(value) or not re.search(r"[1-9]", value):
            raise ValueError(f"must be a duration above zero like 30s, 5m or 4h, got {value!r}")
        return value

    @model_validator(mode="after")
    def _email_needs_a_sender_and_a_server(self) -> AlertSettings:
        if self.email_to:
            for field, variable in (
                ("email_from", "ALERT_EMAIL_FROM"),
                ("smtp_smarthost", "ALERT_SMTP_SMARTHOST"),
            ):
                if not getattr(self, field):
                    raise ValueError(f"{variable} must be set when ALERT_EMAIL_TO is")
        if self.smtp_password.get_secret_value() and not self.smtp_username:
            raise ValueError("ALERT_SMTP_USERNAME must be set when ALERT_SMTP_PASSWORD is")
        if self.slack_channel and not self.slack_webhook_url.get_secret_value():
            raise ValueError("ALERT_SLACK_CHANNEL is set but ALERT_SLACK_WEBHOOK_URL is not")
        return self

    @property
    def receivers(self) -> tuple[str, ...]:
        """The kinds of receiver that are on, in a fixed order."""
        on = {
            "webhook": bool(self.webhook_url),
            "slack": bool(self.slack_webhook_url.get_secret_value()),
            "email": bool(self.email_to),
        }
        return tuple(kind for kind, enabled in on.items() if enabled)


def _secret(env: Mapping[str, str], name: str) -> str:
    """`name` from the environment, or the content of the file `<name>_FILE` names."""
    inline, path = env.get(name, ""), env.get(f"{name}_FILE", "")
    if inline and path:
        raise AlertSettingsProblem(f"set {name} or {name}_FILE, not both")
    if not path:
        return inline
    try:
        return read_secret_file(f"{name}_FILE", path).strip()
    except ConfigurationError as exc:
        raise AlertSettingsProblem(str(exc)) from None


def _describe(error: ValidationError) -> str:
    """One line per problem, each starting with the variable. pydantic's own messages
    quote the input; ours do not for the secrets, so only ours are used."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in problem["loc"])
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)
