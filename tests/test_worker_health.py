"""A worker's /healthz follows its broker, and its tasks are visible as Celery events
(what Flower and celery-exporter read)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from service_common.healthcheck import probe
from tests.support.bare_worker import send_retention_task, start_worker
from tests.support.redis_server import PrivateRedis
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis() -> Iterator[PrivateRedis]:
    """A Redis of this test's own: it is stopped and started again."""
    server = PrivateRedis()
    yield server
    server.stop()


def test_healthz_answers_503_while_the_broker_is_down_and_200_once_it_is_back(
    tmp_path: Path, own_redis: PrivateRedis
) -> None:
    worker = start_worker(own_redis.url(), tmp_path)
    healthz = worker.metrics_url.replace("/metrics", "/healthz")
    try:
        assert probe(healthz) is None  # what compose's health check runs
        own_redis.down()
        wait_until(
            lambda: requests.get(healthz, timeout=5).status_code == 503,
            timeout=30,
            interval=0.5,
            what="/healthz 503 with Redis down",
        )
        assert probe(healthz) == "HTTP 503"
        # The metrics still answer: they are why /metrics was no health check.
        assert requests.get(worker.metrics_url, timeout=5).status_code == 200
        own_redis.up()
        wait_until(
            lambda: requests.get(healthz, timeout=5).status_code == 200,
            timeout=30,
            interval=0.5,
            what="/healthz 200 with Redis back",
        )
        assert worker.process.alive()
    finally:
        worker.stop()


class EventLog:
    """Celery events from the broker, collected by a receiver thread."""

    def __init__(self, redis_url: str) -> None:
        self._app = Celery(broker=redis_url)
        self._connection = self._app.connection_for_read()
        self.events: list[dict[str, Any]] = []
        ready = threading.Event()

        class Receiver(self._app.events.Receiver):  # type: ignore[misc,name-defined]
            def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
                super().on_consume_ready(*args, **kwargs)
                ready.set()

        self._receiver = Receiver(self._connection, handlers={"*": self.events.append})
        self._thread = threading.Thread(
            target=self._receiver.capture, kwargs={"wakeup": False}, daemon=True
        )
        self._thread.start()
        # Events are broadcast: only those sent after the receiver listens arrive.
        assert ready.wait(30), "event receiver not listening"

    def types_for(self, task_id: str) -> set[str]:
        return {e["type"] for e in list(self.events) if e.get("uuid") == task_id}

    def close(self) -> None:
        self._receiver.should_stop = True
        self._thread.join(timeout=10)
        self._connection.close()


def test_a_tasks_events_are_sent_sent_received_started_and_succeeded(
    tmp_path: Path, redis_url: str
) -> None:
    worker = start_worker(redis_url, tmp_path)
    events = EventLog(redis_url)
    try:
        task_id = send_retention_task(redis_url)
        expected = {"task-sent", "task-received", "task-started", "task-succeeded"}
        wait_until(
            lambda: expected <= events.types_for(task_id),
            timeout=60,
            interval=0.2,
            what=f"events {sorted(expected)} of task {task_id}",
        )
        (received,) = [
            e for e in events.events if e["type"] == "task-received" and e["uuid"] == task_id
        ]
        assert received["hostname"].startswith("worker@")
    finally:
        events.close()
        worker.stop()
