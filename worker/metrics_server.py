"""The worker's HTTP port: its multiprocess metrics (/metrics) and its health (/healthz).

Celery's prefork children write their metrics to files in PROMETHEUS_MULTIPROC_DIR; the
main process serves their sum. prometheus_client chooses between in-memory and file-backed
values when `prometheus_client.values` is first imported, and the children inherit that
choice when they fork, so the directory must be set up in the main process before any
metric of ours exists. Only the `celery worker` program does that (worker/programs.py),
before Celery imports the task modules; importing worker.celery_app (the API, `celery
inspect`, Flower, beat) touches no directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from worker.broker_health import BrokerStatus

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
HEALTH_PATH = "/healthz"
# The modules that create our metrics: imported before the directory is set up, they would
# hold in-memory values that no scrape ever sees.
OUR_METRICS_MODULES = ("worker.metrics",)

# The directory this process created, removed again when the worker stops.
_created: Path | None = None


def prepare_multiprocess_dir() -> Path:
    """Point prometheus_client at PROMETHEUS_MULTIPROC_DIR (or a fresh temporary directory),
    emptied of an earlier run's metric files. For the worker's main process, at start-up."""
    global _created
    early = [name for name in OUR_METRICS_MODULES if name in sys.modules]
    if early:
        raise RuntimeError(f"{early} imported before the worker's metrics directory was set up")
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        # Only the files prometheus_client writes: the directory may be a mount point, or
        # shared with something else by mistake.
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="rxp-worker-metrics-"))
        os.environ[ENV] = str(path)
        _created = path
    if "prometheus_client.values" in sys.modules:
        # Celery's command line loads its plugins (Flower's imports prometheus_client)
        # before our app, so the value class may have been chosen without the directory.
        # Metrics are created with whatever `values.ValueClass` is at that moment.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    return path


def remove_multiprocess_dir() -> None:
    """Remove the temporary directory `prepare_multiprocess_dir` created, if it did."""
    global _created
    if _created is not None:
        shutil.rmtree(_created, ignore_errors=True)
        _created = None


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scrape never delays the worker's exit


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and health checks every few seconds are not worth a log line each."""


StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def health_app(status: Callable[[], BrokerStatus], metrics: WsgiApp) -> WsgiApp:
    """/healthz answers 200 while the broker is reachable and 503 otherwise; every other
    path is the metrics, as before /healthz existed."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != HEALTH_PATH:
            return metrics(environ, start_response)
        current = status()
        code = "200 OK" if current.reachable else "503 Service Unavailable"
        body = f"{current.detail}\n".encode()
        start_response(code, [("Content-Type", "text/plain; charset=utf-8")])
        return [body]

    return app


def start_metrics_server(bind: str, broker_status: Callable[[], BrokerStatus]) -> None:
    from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess

    from service_common.wsgi import parse_bind

    host, port = parse_bind(bind)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    app = health_app(broker_status, make_wsgi_app(registry))
    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    server = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    log.info("worker metrics listening address=http://%s:%d/metrics", host, port)


def process_exited(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
