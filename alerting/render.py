"""Write Alertmanager's configuration, and each secret in a file of its own beside it.

Files are replaced atomically (a temporary file, then rename), so an Alertmanager that
reloads meanwhile never reads half a file. Secrets are mode 0600; `owner` hands every file
to the user Alertmanager runs as (in compose the renderer and Alertmanager are different
users sharing one volume). A secret that is no longer set is removed, so a receiver
switched off leaves no credential behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from alerting.config import SecretFiles, alertmanager_config
from alerting.settings import AlertSettings

SLACK_WEBHOOK_URL_FILE = "slack_webhook_url"
SMTP_PASSWORD_FILE = "smtp_password"  # noqa: S105 (a file name, not a password)


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int

    @classmethod
    def parse(cls, text: str) -> Owner:
        uid, sep, gid = text.partition(":")
        if not (sep and uid.isdigit() and gid.isdigit()):
            raise ValueError(f"--owner must be UID:GID in numbers, got {text!r}")
        return cls(int(uid), int(gid))


def header(settings: AlertSettings) -> str:
    lines = [
        "# Alertmanager configuration, rendered by `python -m alerting render` from the",
        "# ALERT_* settings (README, Monitoring). Do not edit: it is rewritten on every start.",
    ]
    if settings.receivers:
        lines.append(f"# Receivers on: {', '.join(settings.receivers)}.")
    else:
        lines += [
            "# No receiver is configured (ALERT_WEBHOOK_URL, ALERT_SLACK_WEBHOOK_URL and",
            "# ALERT_EMAIL_TO are empty): alerts go to the `null` receiver and reach nobody.",
        ]
    return "\n".join(lines) + "\n"


def render(settings: AlertSettings, out: Path, owner: Owner | None = None) -> None:
    directory = out.parent.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    secrets = SecretFiles(
        slack_webhook_url=directory / SLACK_WEBHOOK_URL_FILE,
        smtp_password=directory / SMTP_PASSWORD_FILE,
    )
    for path, value in (
        (secrets.slack_webhook_url, settings.slack_webhook_url.get_secret_value()),
        (secrets.smtp_password, settings.smtp_password.get_secret_value()),
    ):
        if value:
            _write(path, value + "\n", 0o600, owner)
        else:
            path.unlink(missing_ok=True)
    # JSON is YAML too, and needs no YAML library in the image.
    document = json.dumps(alertmanager_config(settings, secrets), indent=2) + "\n"
    _write(directory / out.name, header(settings) + document, 0o644, owner)


def _write(path: Path, text: str, mode: int, owner: Owner | None) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(temporary, mode)  # the umask may have taken bits away
    if owner is not None:
        os.chown(temporary, owner.uid, owner.gid)
    os.replace(temporary, path)
