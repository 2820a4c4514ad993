"""Real child processes for integration tests, with their output kept for the assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import requests

from tests.support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
# A worker started without it makes a private directory; one inherited from whoever runs
# the tests would be shared by every worker, and each start empties it.
NOT_INHERITED = frozenset({"PROMETHEUS_MULTIPROC_DIR"})


class ManagedProcess:
    """A child process whose stdout and stderr go to a log file the test can read."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        child_env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env=child_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_http_ok(self, url: str, timeout: float = 30.0) -> None:
        """Wait until `url` answers 2xx, failing early (with the log) if the process died."""

        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            try:
                return requests.get(url, timeout=1).ok
            except requests.RequestException:
                return False

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} ready at {url}")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- {self.name} log ---\n{self.output()[-4000:]}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, as a crash would; the whole process group so no child survives."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def terminate(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s; reaped either way."""
    popen.terminate()
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def python_module(module: str, *args: str) -> list[str]:
    """argv running `python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]
