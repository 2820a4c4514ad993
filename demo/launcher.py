"""Start the demo's processes, wait for them, and stop every one of them whatever happens."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType, TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_MARKER = "REVIZTO_DEMO_RUN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (local http URL)
            return bool(200 <= reply.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Launcher:
    """Owns the demo's child processes; leaving the `with` block stops them all."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Launcher:
        # SIGTERM (a CI runner, `kill`) unwinds like Ctrl-C; SIGINT is set explicitly because
        # a shell that starts the demo in the background ignores it by default.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        child = subprocess.Popen(  # noqa: S603 (our own commands)
            argv,
            cwd=REPO_ROOT,
            # The marker lets anyone find (and a test prove gone) every process of this run.
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                RUN_MARKER: str(self.log_dir),
                **(env or {}),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children itself
        )
        self._children.append((name, child))
        return child

    def python(
        self, name: str, module: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.start(name, [sys.executable, "-m", module, *args], env)

    def wait_ready(self, name: str, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        child = dict(self._children)[name]
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited early; see {self.log_dir / (name + '.log')}")
            if http_ok(url):
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"{name} not ready at {url} after {timeout:.0f}s; see {self.log_dir / (name + '.log')}"
        )

    def stop_all(self) -> None:
        for _, child in reversed(self._children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, child in reversed(self._children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it", file=sys.stderr)
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self._children.clear()


def require_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "make demo needs redis-server on PATH (Debian: apt-get install redis-server)"
        )
    return binary
