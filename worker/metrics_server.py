"""Serve the worker's multiprocess metrics from the main Celery process.

PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is first imported, in the
main process, so that forked pool children inherit multiprocess mode; worker.celery_app
calls `prepare_multiprocess_dir` at import time for exactly that reason.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> Path:
    """Use PROMETHEUS_MULTIPROC_DIR (or a fresh temporary directory), emptied of old runs."""
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="rxp-worker-metrics-"))
        os.environ[ENV] = str(path)
    return path


def start_metrics_server(bind: str) -> None:
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from service_common.wsgi import parse_bind

    host, port = parse_bind(bind)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
    log.info("worker metrics listening address=http://%s:%d/metrics", host, port)


def process_exited(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
