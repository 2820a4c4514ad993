"""The API's way to the workers: a Celery producer (no worker code imported) and the
shared Dispatcher that knows every task's name, queue and arguments."""

from __future__ import annotations

from celery import Celery

from jobs.dispatch import Dispatcher


def task_dispatcher(broker_url: str) -> Dispatcher:
    producer = Celery("revizto_exporter_api", broker=broker_url)
    producer.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
    )
    return Dispatcher(producer)
