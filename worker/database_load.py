"""A unit of a job with a database destination: after its files are committed, load them
into the database, retrying while the database is unreachable (the unit shows `retrying`
with `destination_unavailable`) for as long as the project retry window allows."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay
from tenacity.wait import wait_exponential

from dbsync.loader import DatabaseLoader, ExportedFile
from dbsync.migrate import DestinationRefused, DestinationUnavailable, ensure_schema, unavailable
from dbsync.rows import RowBuilder
from jobs.layout import file_scope
from jobs.model import FileEntry
from revizto.retry import RetryEvent
from worker.context import WorkerContext
from worker.settings import RETRY_MAX_SECONDS
from worker.unit_run import UnitRun

log = logging.getLogger(__name__)


def load_unit(ctx: WorkerContext, run: UnitRun, database: str, files: list[FileEntry]) -> None:
    """Upsert the unit's committed files into `database`."""
    started = time.monotonic()
    engine = ctx.engines.engine(database)
    retry = _retrying(ctx, run, database)
    retry(lambda: ensure_schema(engine, database, ctx.redis))
    loader = DatabaseLoader(
        engine, RowBuilder(run.job_id, datetime.now(UTC).replace(tzinfo=None)), retry
    )
    loaded = loader.load(
        ExportedFile(
            entry.resource,
            functools.partial(ctx.storage.open, run.job_id, entry.name),
            _scope(entry),
        )
        for entry in files
        if entry.name.endswith(".ndjson")
    )
    log.info(
        "unit loaded into database job=%s unit=%s database=%s rows=%s seconds=%.1f",
        run.job_id,
        run.unit,
        database,
        loaded,
        time.monotonic() - started,
    )


def _scope(entry: FileEntry) -> str | None:
    """The uuid a file belongs to (project, or licence for licence members), dashed."""
    scope = file_scope(entry.name)
    return str(uuid.UUID(scope)) if scope else None


def _retrying(
    ctx: WorkerContext, run: UnitRun, database: str
) -> Callable[[Callable[[], None]], None]:
    settings = ctx.settings

    def show(state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        shown = DestinationUnavailable(database, error) if error is not None else None
        run.retrying(
            RetryEvent(f"database {database!r}", state.attempt_number, wait, shown),
            code="destination_unavailable",
        )

    def retry(operation: Callable[[], None]) -> None:
        retrying = Retrying(
            stop=stop_after_delay(settings.project_retry_window),
            wait=wait_exponential(multiplier=settings.retry_base_seconds, max=RETRY_MAX_SECONDS),
            retry=retry_if_exception(
                lambda exc: (
                    isinstance(exc, DestinationUnavailable)
                    or (isinstance(exc, DBAPIError) and unavailable(exc))
                )
            ),
            sleep=run.sleep,
            before_sleep=show,
            reraise=True,
        )
        try:
            retrying(operation)
        except DBAPIError as exc:
            if unavailable(exc):
                raise DestinationUnavailable(database, exc) from exc
            # Never the exception's own text: SQLAlchemy's holds the statement and its data.
            raise DestinationRefused(database, exc) from None

    return retry
