"""The reaper: finds work that stopped without saying so, and gets it going again.

Every worker runs it in a background thread; each round, one of them wins a short Redis
lock and does the round for the whole cluster:
  * a running unit whose heartbeat is older than EXPORT_STALL_SECONDS (its worker was
    killed, lost Redis, or hangs) goes back to the queue, and its task is sent again;
  * a job whose last unit finished but whose finisher died is given its outcome;
  * a finished job whose manifest or webhook was never written is published;
  * webhook deliveries that are due are sent.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import redis

from jobs.dispatch import Dispatcher
from jobs.store import JobNotFound, JobStore
from worker.metrics import UNITS_REQUEUED
from worker.webhooks import DELIVERY_LEASE

log = logging.getLogger(__name__)

LOCK_KEY = "rxp:reaper:lock"
# A finished job's publisher gets this long before the reaper publishes it instead.
PUBLISH_GRACE_SECONDS = 60.0


class Reaper:
    def __init__(
        self, jobs: JobStore, dispatcher: Dispatcher, *, stall_seconds: float, interval: float
    ) -> None:
        self.jobs = jobs
        self.dispatcher = dispatcher
        self.stall_seconds = stall_seconds
        self.interval = interval
        self._identity = uuid.uuid4().hex
        self._stopping = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stopping.set()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                if self._won_round():
                    self.round()
            except redis.RedisError as exc:
                # Redis away: nothing to reap until it is back; the next round tries again.
                log.warning("reaper round skipped error=%s", type(exc).__name__)
            except Exception:
                log.exception("reaper round failed")

    def _won_round(self) -> bool:
        lease_ms = max(100, int(self.interval * 900))  # gone before the next round starts
        return bool(self.jobs.client.set(LOCK_KEY, self._identity, nx=True, px=lease_ms))

    def round(self, now: float | None = None) -> dict[str, int]:
        """One pass over the cluster's work; counts of what it did (for tests and logs)."""
        now = time.time() if now is None else now
        done = {"requeued": 0, "finished": 0, "published": 0, "deliveries": 0}
        stale_before = now - self.stall_seconds
        for job_id, unit in self.jobs.stale_units(stale_before):
            if self.jobs.requeue_stalled(job_id, unit, stale_before):
                try:
                    self.dispatcher.unit(self.jobs.get(job_id), unit)
                except JobNotFound:
                    continue
                UNITS_REQUEUED.labels(reason="stalled").inc()
                log.warning(
                    "stalled unit requeued job=%s unit=%s stall_s=%.0f",
                    job_id,
                    unit,
                    self.stall_seconds,
                )
                done["requeued"] += 1
        for job_id in self.jobs.running_jobs():
            if self.jobs.finish(job_id, now) is not None:
                log.warning("job finished by the reaper job=%s", job_id)
                done["finished"] += 1
        for job_id in self.jobs.unpublished(now - PUBLISH_GRACE_SECONDS):
            self.dispatcher.publish(job_id)
            done["published"] += 1
        for job_id, notification_id in self.jobs.take_due_notifications(now, DELIVERY_LEASE):
            self.dispatcher.deliver(job_id, notification_id)
            done["deliveries"] += 1
        return done
