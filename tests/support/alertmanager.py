"""Alertmanager's configuration rendered by the real `python -m alerting render`, checked by
the real `amtool`, and a real Alertmanager process serving it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ManagedProcess, python_module

# The variables a test may not inherit from the machine it runs on.
ALERT_VARIABLES = (
    "ALERT_WEBHOOK_URL",
    "ALERT_SLACK_WEBHOOK_URL",
    "ALERT_SLACK_WEBHOOK_URL_FILE",
    "ALERT_SLACK_CHANNEL",
    "ALERT_EMAIL_TO",
    "ALERT_EMAIL_FROM",
    "ALERT_SMTP_SMARTHOST",
    "ALERT_SMTP_USERNAME",
    "ALERT_SMTP_PASSWORD",
    "ALERT_SMTP_PASSWORD_FILE",
    "ALERT_SMTP_REQUIRE_TLS",
    "ALERT_GROUP_WAIT",
    "ALERT_GROUP_INTERVAL",
    "ALERT_REPEAT_INTERVAL",
)


@dataclass(frozen=True)
class Rendered:
    """What `python -m alerting render` did: its exit code, output, and the file."""

    returncode: int
    stdout: str
    stderr: str
    path: Path

    def text(self) -> str:
        return self.path.read_text()


def render_config(out: Path, settings: dict[str, str], *extra: str) -> Rendered:
    """Run the renderer as compose does, with exactly `settings` as ALERT_* variables."""
    env = {k: v for k, v in os.environ.items() if k not in ALERT_VARIABLES}
    done = subprocess.run(
        python_module("alerting", "render", "--out", str(out), *extra),
        cwd=REPO_ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Rendered(done.returncode, done.stdout, done.stderr, out)


def amtool_check_config(amtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool, "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def amtool_route(amtool: str, path: Path, *labels: str) -> str:
    """The receiver an alert with `labels` (name=value) is routed to."""
    done = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class AlertmanagerServer:
    """`prometheus-alertmanager` on a free loopback port, clustering off, its state in
    `workdir`."""

    def __init__(self, binary: str, workdir: Path, config: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.address}"
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # empty: no gossip port, a single instance
            "--log.level=warn",
        ]
        self.process = ManagedProcess("alertmanager", argv, workdir)
        self.process.wait_http_ok(f"{self.base_url}/-/ready", timeout=60)

    def alerts(self) -> list[dict[str, Any]]:
        reply = requests.get(f"{self.base_url}/api/v2/alerts", timeout=10)
        assert reply.status_code == 200, reply.text
        alerts: list[dict[str, Any]] = reply.json()
        return alerts

    def log(self) -> str:
        return self.process.output()

    def stop(self) -> None:
        self.process.stop()
