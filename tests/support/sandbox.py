"""A real `python -m sandbox` process on a free port, with helpers for its control routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, python_module

TIMEOUT_S = 10.0


def cli_arguments(options: dict[str, Any]) -> list[str]:
    """`seed=3, non_rotating_refresh_tokens=True, access_code=[a, b]` → CLI flags.

    >>> cli_arguments({"seed": 3, "non_rotating_refresh_tokens": True, "access_code": ["a", "b"]})
    ['--seed', '3', '--non-rotating-refresh-tokens', '--access-code', 'a', '--access-code', 'b']
    """
    argv: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list | tuple):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv


class SandboxProcess:
    """The fake Revizto, started and ready; `stop()` ends it."""

    def __init__(self, log_dir: Path, name: str = "sandbox", **options: Any) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        argv = python_module("sandbox", "--port", str(self.port), *cli_arguments(options))
        self.process = ManagedProcess(name, argv, log_dir)
        self.process.wait_http_ok(self.url("/_sandbox/stats"))

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- control routes -----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self._json(requests.get(self.url("/_sandbox/stats"), timeout=TIMEOUT_S))

    def reset_stats(self) -> dict[str, Any]:
        return self._json(requests.post(self.url("/_sandbox/reset-stats"), timeout=TIMEOUT_S))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        reply = requests.post(self.url("/_sandbox/faults"), json=settings, timeout=TIMEOUT_S)
        return self._json(reply)

    def access_code(self) -> str:
        reply = requests.post(self.url("/_sandbox/access-codes"), timeout=TIMEOUT_S)
        code: str = self._json(reply)["code"]
        return code

    def catalog(self) -> dict[str, Any]:
        return self._json(requests.get(self.url("/_sandbox/catalog"), timeout=TIMEOUT_S))

    def touch_issues(self, project_uuid: str, ids: list[int]) -> str:
        return self._edit_issues("touch-issues", project_uuid, ids, "updated")

    def delete_issues(self, project_uuid: str | int, ids: list[int]) -> str:
        """Delete live issues now; the deletion time the sandbox answers."""
        return self._edit_issues("delete-issues", project_uuid, ids, "deleted_at")

    def add_comments(self, project_uuid: str | int, ids: list[int]) -> str:
        """Add one comment to each live issue now; the comments' creation time."""
        return self._edit_issues("add-comments", project_uuid, ids, "created")

    def _edit_issues(self, route: str, project_uuid: str | int, ids: list[int], answer: str) -> str:
        reply = requests.post(
            self.url(f"/_sandbox/{route}"),
            json={"project_uuid": project_uuid, "ids": ids},
            timeout=TIMEOUT_S,
        )
        stamp: str = self._json(reply)[answer]
        return stamp

    # --- Revizto side -------------------------------------------------------------------

    def exchange_code(self, code: str | None = None) -> dict[str, Any]:
        """Token JSON for a fresh (or the given) access code."""
        reply = self.token_request(grant_type="authorization_code", code=code or self.access_code())
        return self._json(reply)

    def refresh(self, refresh_token: str, timeout: float = TIMEOUT_S) -> requests.Response:
        return self.token_request(
            timeout=timeout, grant_type="refresh_token", refresh_token=refresh_token
        )

    def token_request(self, timeout: float = TIMEOUT_S, **form: str) -> requests.Response:
        return requests.post(self.url("/v5/oauth2"), data=form, timeout=timeout)

    def access_token(self) -> str:
        token: str = self.exchange_code()["access_token"]
        return token

    def get(
        self, path: str, token: str | None, timeout: float = TIMEOUT_S, **params: Any
    ) -> requests.Response:
        """GET a /v5 path with a bearer token (None sends no Authorization header)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.get(self.url(path), params=params, headers=headers, timeout=timeout)

    def comments_reply(
        self, token: str, issue_uuid: str, project_id: Any, **params: Any
    ) -> dict[str, Any]:
        """The whole envelope of an issue's comments-by-date (all dates unless `date` is
        given), so that a test can see a refusal too."""
        reply = self.get(
            f"/v5/issue/{issue_uuid}/comments/date",
            token,
            **{"projectId": project_id, "date": "2000-01-01", **params},
        )
        assert reply.status_code == 200
        body: dict[str, Any] = reply.json()
        return body

    def data(self, path: str, token: str, **params: Any) -> Any:
        """The `data` of a successful envelope; fails the test on anything else."""
        reply = self.get(path, token, **params)
        body = self._json(reply)
        assert body["result"] == 0, f"{path} answered {body}"
        return body["data"]

    def rss_kib(self) -> int:
        """Resident memory of the sandbox process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("VmRSS not found")

    def stop(self) -> None:
        self.process.stop()

    @staticmethod
    def _json(reply: requests.Response) -> Any:
        assert reply.status_code == 200, (
            f"{reply.request.url}: {reply.status_code} {reply.text[:500]}"
        )
        return reply.json()


# What the `sandbox_factory` fixture hands a test: CLI options in, a started sandbox out.
SandboxFactory = Callable[..., SandboxProcess]


def issued_secrets(sandbox: SandboxProcess) -> list[str]:
    """Every access token, refresh token and access code the sandbox has handed out."""
    reply = requests.get(sandbox.url("/_sandbox/issued-secrets"), timeout=TIMEOUT_S)
    body = SandboxProcess._json(reply)
    return [*body["access_tokens"], *body["refresh_tokens"], *body["access_codes"]]
