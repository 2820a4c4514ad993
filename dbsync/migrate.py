"""Bring a database to the newest schema with Alembic, safely when many workers start at
once: one Redis lock per database serialises them, and Alembic's version table makes the
others find nothing left to do."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import redis
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_SECONDS = 300


class DestinationUnavailable(Exception):
    """The database cannot be reached or refused the login; worth retrying. The message
    names the destination, never its URL."""

    def __init__(self, name: str, error: BaseException) -> None:
        super().__init__(f"database {name!r} is unavailable: {type(error).__name__}")
        self.name = name


class MigrationFailed(Exception):
    """A migration itself failed: a person must look; retrying will not help."""


def unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot reach or log in" rather than a bad statement."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def ensure_schema(engine: Engine, name: str, client: redis.Redis) -> None:
    """Upgrade `name` to the newest revision, once per process."""
    with _migrated_lock:
        if name in _migrated:
            return
        try:
            with (
                client.lock(
                    f"rxp:dbsync:migrate:{name}",
                    timeout=LOCK_SECONDS,
                    blocking_timeout=LOCK_SECONDS,
                ),
                engine.begin() as connection,
            ):
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except DBAPIError as exc:
            if unavailable(exc):
                raise DestinationUnavailable(name, exc) from exc
            raise MigrationFailed(
                f"migrating database {name!r} failed: {type(exc).__name__}: {exc.orig}"
            ) from exc
        log.info("database schema current name=%s", name)
        _migrated.add(name)
