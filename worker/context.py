"""WorkerContext: the per-process connections a task uses (Redis, the job store, the token
service), and a Revizto client per unit.

Built lazily in the pool process that runs the task, never in the parent before the
fork, so no socket is shared between processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from dbsync.databases import Engines
from jobs.dispatch import Dispatcher
from jobs.storage import ExportStorage, open_storage
from jobs.store import JobStore
from jobs.watermarks import WatermarkStore
from revizto.client import ReviztoClient
from revizto.retry import RetryPolicy
from service_common.rate_limit import ClusterRateLimit, cluster_rate_limit
from token_service.client import TokenServiceProvider
from worker.metrics import RATE_LIMIT_WAIT, RATE_LIMITED, observe_api_request
from worker.settings import RETRY_MAX_SECONDS, WorkerSettings
from worker.unit_run import UnitRun

# Redis restarts take seconds: ride them out rather than fail the unit that was writing.
REDIS_RETRY = Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=8)
# A Retry-After longer than this is not waited out in one go (it would look like a stall).
UNIT_RETRY_AFTER_CAP = 300.0


@dataclass
class WorkerContext:
    settings: WorkerSettings
    redis: redis.Redis
    jobs: JobStore
    watermarks: WatermarkStore
    engines: Engines
    storage: ExportStorage  # export files: EXPORT_STORAGE_URL, or folders under EXPORT_DIR
    tokens: TokenServiceProvider
    dispatcher: Dispatcher
    # One per process, shared by every unit and thread in it (None: REVIZTO_RATE_LIMIT_RPS=0).
    rate_limit: ClusterRateLimit | None = None

    def base_url(self) -> str:
        """Revizto's base URL: the override, or the token service's."""
        base_url = self.settings.base_url_override
        if base_url is None:
            self.tokens.current_token()
            base_url = self.tokens.base_url
        if not base_url:
            raise RuntimeError("no Revizto base URL: set REVIZTO_BASE_URL")
        return base_url

    def client_for(self, run: UnitRun) -> ReviztoClient:
        """A client whose requests retry, with backoff honouring Retry-After, for as long
        as the retry window allows, showing every retry on the unit."""
        policy = RetryPolicy(
            attempts=None,
            max_elapsed=self.settings.project_retry_window,
            initial_backoff=self.settings.retry_base_seconds,
            max_backoff=RETRY_MAX_SECONDS,
            jitter=min(1.0, self.settings.retry_base_seconds),
            retry_after_cap=UNIT_RETRY_AFTER_CAP,
            sleep=run.sleep,
            on_retry=run.retrying,
        )
        return ReviztoClient(
            self.base_url(),
            self.tokens,
            retry_policy=policy,
            observer=observe_api_request,
            gate=self.rate_limit,
        )

    def unit_run(self, job_id: str, unit: str) -> UnitRun:
        return UnitRun(
            self.jobs,
            job_id,
            unit,
            stall_seconds=self.settings.stall_seconds,
            heartbeat_interval=self.settings.heartbeat_interval,
        )


_context: WorkerContext | None = None
_context_pid: int | None = None


def context(settings: WorkerSettings, dispatcher: Dispatcher) -> WorkerContext:
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        client = redis.Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=30,
            retry=REDIS_RETRY,
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        _context = WorkerContext(
            settings=settings,
            redis=client,
            jobs=JobStore(client),
            watermarks=WatermarkStore(client),
            engines=Engines(settings.databases()),
            storage=open_storage(
                settings.storage_url,
                settings.export_dir,
                os.environ,
                part_size=settings.s3_part_bytes,
            ),
            tokens=TokenServiceProvider(
                settings.token_service_url, settings.token_service_secret.get_secret_value()
            ),
            dispatcher=dispatcher,
            rate_limit=cluster_rate_limit(
                settings.redis_url,
                settings.rate_limit,
                on_wait=RATE_LIMIT_WAIT.observe,
                on_throttled=RATE_LIMITED.inc,
            ),
        )
        _context_pid = os.getpid()
    return _context
