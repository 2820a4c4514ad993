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
from alembic.util.exc import CommandError
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


class DestinationRefused(Exception):
    """The database refused a statement for a reason retrying cannot fix (a permission, a
    constraint). The message names the destination and the database's own first line."""

    def __init__(self, name: str, error: DBAPIError) -> None:
        first_line = str(error.orig).splitlines()[0][:300] if str(error.orig) else ""
        super().__init__(
            f"database {name!r} refused the data: {type(error.orig).__name__}: {first_line}"
        )
        self.name = name


class MigrationFailed(Exception):
    """A migration itself failed: a person must look; retrying will not help."""


# PostgreSQL SQLSTATE classes: 08 connection exception, 28 invalid authorization, 57P
# operator intervention (shutdown, cannot connect now). MySQL/MariaDB error numbers: can't
# connect (2002, 2003), gone away (2006, 2013), too many connections (1040), access denied
# for the login (1045). SQLite: the file is busy or cannot be opened.
PG_UNAVAILABLE = ("08", "28", "57P")
MYSQL_UNAVAILABLE = {1040, 1045, 2002, 2003, 2006, 2013}
SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file")


def unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot reach or log in" (worth retrying) rather
    than a statement or a permission the database refuses (retrying cannot help)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(PG_UNAVAILABLE)
    code = original.args[0] if original is not None and original.args else None
    if isinstance(code, int):
        return code in MYSQL_UNAVAILABLE
    if isinstance(code, str) and "sqlite" in type(original).__module__:
        return code.startswith(SQLITE_UNAVAILABLE)
    # psycopg without a SQLSTATE: it could not connect at all
    return isinstance(error, OperationalError)


_migrated: set[tuple[str, str]] = set()  # (name, URL without its password)
_migrated_lock = threading.Lock()


def ensure_schema(engine: Engine, name: str, client: redis.Redis) -> None:
    """Upgrade `name` to the newest revision, once per process."""
    done = (name, engine.url.render_as_string(hide_password=True))
    with _migrated_lock:
        if done in _migrated:
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
                f"migrating database {name!r} failed: {type(exc.orig).__name__}: "
                f"{str(exc.orig).splitlines()[0][:300]}"
            ) from exc
        except CommandError as exc:
            raise MigrationFailed(f"migrating database {name!r} failed: {exc}") from exc
        log.info("database schema current name=%s", name)
        _migrated.add(done)
