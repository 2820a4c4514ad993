"""Alembic's environment: migrations run on the connection dbsync/migrate.py hands over."""

from __future__ import annotations

from alembic import context

from dbsync.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
# Our own version table: the database may hold another application's `alembic_version`.
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
