"""EXPORT_DATABASES: the databases a job may name, configured on the server only.

A JSON object of name -> SQLAlchemy URL. Callers name a database; they never send a URL
or a password, and no URL is ever shown: errors and logs use the name.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class DatabaseConfigError(ValueError):
    """EXPORT_DATABASES cannot be used; the message never contains a URL."""


def parse_databases(raw: str | None) -> dict[str, str]:
    """name -> URL from EXPORT_DATABASES (empty: no database destinations)."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise DatabaseConfigError(
            'EXPORT_DATABASES must be a JSON object: {"name": "postgresql+psycopg://..."}'
        ) from None
    if not isinstance(value, dict):
        raise DatabaseConfigError("EXPORT_DATABASES must be a JSON object of name -> URL")
    databases: dict[str, str] = {}
    for name, url in value.items():
        if not NAME.fullmatch(name):
            raise DatabaseConfigError(
                f"EXPORT_DATABASES: {name[:64]!r} is not a name (letters, digits, _ . -)"
            )
        if not isinstance(url, str):
            raise DatabaseConfigError(f"EXPORT_DATABASES: the URL of {name!r} must be a string")
        try:
            make_url(url)
        except (ArgumentError, ValueError):
            raise DatabaseConfigError(
                f"EXPORT_DATABASES: the URL of {name!r} is not a SQLAlchemy URL"
            ) from None
        databases[name] = url
    return databases


class Engines:
    """One engine per configured database and process, made on first use."""

    def __init__(self, databases: Mapping[str, str]) -> None:
        self.databases = dict(databases)
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self.databases)

    def engine(self, name: str) -> Engine:
        if name not in self.databases:
            # The API and this worker were given different EXPORT_DATABASES.
            raise DatabaseConfigError(f"no database {name!r} in this worker's EXPORT_DATABASES")
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                # pre-ping: a connection the database dropped overnight is replaced, not used
                engine = create_engine(self.databases[name], pool_pre_ping=True)
                self._engines[name] = engine
            return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


DEFAULT_DATABASE = "local"
SQLITE_FILE = "revizto.sqlite3"


def databases_from_env(env: Mapping[str, str], export_dir: Path) -> dict[str, str]:
    """EXPORT_DATABASES, or, when it is unset, the default database."""
    return parse_databases(env.get("EXPORT_DATABASES")) or default_databases(export_dir)


def default_databases(export_dir: Path) -> dict[str, str]:
    """One embedded SQLite database named `local` under the export directory (one machine:
    nothing to install)."""
    return {DEFAULT_DATABASE: f"sqlite:///{export_dir.resolve() / SQLITE_FILE}"}
