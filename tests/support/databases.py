"""Real databases for the database-destination tests: a fresh database per test on the
PostgreSQL and MariaDB this machine runs (CI installs and starts them), dropped after;
SQLite in a temporary file. Outside CI, a server that does not answer skips its tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

SERVERS = {
    "postgresql": os.environ.get(
        "TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'sync.sqlite3'}"
        return
    server = create_engine(SERVERS[kind], isolation_level="AUTOCOMMIT")
    name = f"rxp_test_{secrets.token_hex(4)}"
    try:
        with server.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        server.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{kind} is not reachable at {SERVERS[kind]} ({type(exc).__name__})")
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            if kind == "postgresql":
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            connection.execute(text(f"DROP DATABASE {name}"))
        server.dispose()
