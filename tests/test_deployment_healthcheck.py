"""`python -m service_common.healthcheck URL`, the containers' health probe, against a
real HTTP server: healthy only on a 2xx within the timeout."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service_common import healthcheck
from service_common.healthcheck import HEALTHY, UNHEALTHY, probe
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT

SLOW_SECONDS = 3.0


class Handler(BaseHTTPRequestHandler):
    """GET /status/<code> answers <code>; GET /slow answers 200 after SLOW_SECONDS."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
            status = 200
        else:
            status = int(self.path.rsplit("/", 1)[-1])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("status", [200, 204])
def test_a_2xx_answer_is_healthy(server: str, status: int) -> None:
    assert probe(f"{server}/status/{status}") is None
    assert healthcheck.main([f"{server}/status/{status}"]) == HEALTHY


@pytest.mark.parametrize("status", [404, 500, 503])
def test_an_error_status_is_unhealthy_and_says_which(
    server: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert probe(f"{server}/status/{status}") == f"HTTP {status}"
    assert healthcheck.main([f"{server}/status/{status}"]) == UNHEALTHY
    assert f"reason=HTTP {status}" in capsys.readouterr().err


def test_nothing_listening_is_unhealthy() -> None:
    reason = probe(f"http://127.0.0.1:{free_port()}/healthz", timeout=1)
    assert reason is not None
    assert reason.startswith("unreachable")


def test_an_answer_slower_than_the_timeout_is_unhealthy_in_time(server: str) -> None:
    started = time.monotonic()
    assert probe(f"{server}/slow", timeout=0.3) == "no answer within 0.3s"
    assert time.monotonic() - started < SLOW_SECONDS - 1


def test_a_proxy_in_the_environment_is_not_used(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens at the proxy: going through it would fail.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert probe(f"{server}/status/200") is None


def test_only_http_urls_are_probed() -> None:
    assert probe("file:///etc/passwd") == "not an http(s) URL"


def test_the_module_runs_as_python_dash_m_with_its_exit_codes(server: str) -> None:
    def run(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service_common.healthcheck", url, "--timeout", "2"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    healthy = run(f"{server}/status/200")
    assert (healthy.returncode, healthy.stderr) == (0, "")
    sick = run(f"{server}/status/503")
    assert sick.returncode == 1
    assert "reason=HTTP 503" in sick.stderr


def test_the_module_needs_nothing_but_the_standard_library() -> None:
    """It runs every few seconds in every container: no Flask, no requests, no Redis."""
    tree = ast.parse((REPO_ROOT / "service_common" / "healthcheck.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
