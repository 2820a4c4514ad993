"""What only a starting `celery worker` may do, and how fast an idle one stops.

Importing worker.celery_app (the API, `celery inspect`, Flower, beat) must leave the
metrics directory of a running worker alone; the worker itself empties it of an earlier
run's files and writes its metrics there, even though Celery's command line imported
prometheus_client (through the Flower plugin) before our app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.bare_worker import start_worker
from tests.support.processes import REPO_ROOT

CELERY = str(Path(sys.executable).parent / "celery")
# A metric file of a worker that is running right now, in prometheus_client's naming.
RUNNING_WORKERS_FILE = "counter_4242.db"
CONTENT = b"metrics of a running worker"


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(
            [
                sys.executable,
                "-c",
                "import os, worker.celery_app; print(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))",
            ],
            id="import",
        ),
        # Through Celery's command line, as `celery inspect` or Flower load the app.
        pytest.param([CELERY, "-A", "worker.celery_app", "report"], id="celery-report"),
    ],
)
def test_loading_the_app_leaves_a_running_workers_metrics_alone(
    argv: list[str], tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / RUNNING_WORKERS_FILE).write_bytes(CONTENT)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "TMPDIR": str(temp),
        "REDIS_URL": "redis://127.0.0.1:9/0",  # never connected to
    }
    run(argv, env)
    assert (metrics_dir / RUNNING_WORKERS_FILE).read_bytes() == CONTENT
    assert list(temp.iterdir()) == []

    # Without the variable, loading the app sets none and creates no directory either.
    del env["PROMETHEUS_MULTIPROC_DIR"]
    done = run(argv, env)
    assert list(temp.iterdir()) == []
    if argv[0] == sys.executable:
        assert done.stdout.strip() == "None"


def metric_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.mark.slow
def test_a_starting_worker_empties_its_metrics_directory_and_writes_to_it(
    tmp_path: Path, redis_url: str
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / RUNNING_WORKERS_FILE).write_bytes(CONTENT)  # now an earlier run's
    unrelated = metrics_dir / "README.txt"
    unrelated.write_text("not prometheus_client's")
    worker = start_worker(redis_url, tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    try:
        assert not (metrics_dir / RUNNING_WORKERS_FILE).exists()
        assert unrelated.exists(), "only metric files are removed"
        # File-backed values in the main process: multiprocess mode is really on.
        assert (metrics_dir / f"counter_{worker.process.pid}.db").is_file()
        text = worker.metrics_text()
        assert metric_value(text, "revizto_export_jobs_total", outcome="failed") == 0
    finally:
        worker.stop()
    # A directory the operator chose stays; only a temporary one of our own is removed.
    assert metrics_dir.is_dir()


@pytest.mark.slow
def test_without_a_configured_directory_the_worker_uses_a_temporary_one_and_removes_it(
    tmp_path: Path, redis_url: str
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    worker = start_worker(redis_url, tmp_path, TMPDIR=str(temp))
    try:
        (created,) = temp.glob("rxp-worker-metrics-*")
        assert (created / f"counter_{worker.process.pid}.db").is_file()
        text = worker.metrics_text()
        assert metric_value(text, "revizto_export_jobs_total", outcome="failed") == 0
    finally:
        worker.stop()
    assert not list(temp.glob("rxp-worker-metrics-*"))


@pytest.mark.slow
def test_an_idle_worker_stops_within_seconds_on_sigterm_remapped_to_sigquit(
    tmp_path: Path, redis_url: str
) -> None:
    """As compose runs it: REMAP_SIGTERM=SIGQUIT makes SIGTERM Celery's cold shutdown,
    whose soft-shutdown wait (60 s) must apply only while a task runs."""
    worker = start_worker(redis_url, tmp_path, REMAP_SIGTERM="SIGQUIT")
    try:
        started = time.monotonic()
        os.kill(worker.process.pid, signal.SIGTERM)
        try:
            worker.process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"an idle worker still runs 10 s after SIGTERM:\n{worker.log()[-3000:]}")
        assert time.monotonic() - started < 10
        assert "Cold shutdown" in worker.log()
    finally:
        worker.stop()
