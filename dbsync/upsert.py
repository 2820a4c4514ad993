"""Insert-or-update by the natural key, one statement per batch, in the dialect's own way:
a redelivered unit or a re-sync rewrites rows in place instead of duplicating them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, or_
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    keys = [column.name for column in table.primary_key.columns]
    others = [column.name for column in table.columns if column.name not in keys]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        pg = postgresql_insert(table)
        statement: Any = pg.on_conflict_do_update(
            index_elements=keys, set_={name: pg.excluded[name] for name in others}
        )
    elif dialect == "sqlite":
        lite = sqlite_insert(table)
        statement = lite.on_conflict_do_update(
            index_elements=keys, set_={name: lite.excluded[name] for name in others}
        )
    elif dialect in ("mysql", "mariadb"):
        my = mysql_insert(table)
        statement = my.on_duplicate_key_update({name: my.inserted[name] for name in others})
    else:
        # Any other dialect (SQL Server): delete the batch's keys, then insert, in the
        # caller's transaction, which makes it one change.
        matches = [and_(*(table.c[k] == row[k] for k in keys)) for row in rows]
        connection.execute(delete(table).where(or_(*matches)))
        statement = insert(table)
    connection.execute(statement, list(rows))
