"""Insert-or-update by the natural key, one statement per batch, in the dialect's own way:
a redelivered unit or a re-sync rewrites rows in place instead of duplicating them.

Rows with Revizto's `updated` time (issues, projects) are only overwritten by a row at
least as new: a retried old job, or two jobs loading at once, can never put older data
over newer, nor bring a deleted issue back with an older live copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, insert, or_
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

VERSION_COLUMN = "updated"


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    keys = [column.name for column in table.primary_key.columns]
    # The version column last: MySQL applies assignments in order, and the others compare
    # against the row's old `updated`.
    others = sorted(
        (column.name for column in table.columns if column.name not in keys),
        key=lambda name: name == VERSION_COLUMN,
    )
    versioned = VERSION_COLUMN in table.c
    dialect = connection.dialect.name
    statement: Any
    if dialect in ("postgresql", "sqlite"):
        ours = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
        statement = ours.on_conflict_do_update(
            index_elements=keys,
            set_={name: ours.excluded[name] for name in others},
            where=_not_older(table, ours.excluded[VERSION_COLUMN]) if versioned else None,
        )
    elif dialect in ("mysql", "mariadb"):
        my = mysql_insert(table)
        values: dict[str, Any]
        if versioned:
            newer = _not_older(table, my.inserted[VERSION_COLUMN])
            values = {name: func.if_(newer, my.inserted[name], table.c[name]) for name in others}
        else:
            values = {name: my.inserted[name] for name in others}
        statement = my.on_duplicate_key_update(values)
    else:
        # Any other dialect (SQL Server, untested): delete the batch's keys, then insert, in
        # the caller's transaction, which makes it one change.
        matches = [and_(*(table.c[k] == row[k] for k in keys)) for row in rows]
        connection.execute(delete(table).where(or_(*matches)))
        statement = insert(table)
    connection.execute(statement, list(rows))


def _not_older(table: Table, incoming: Any) -> ColumnElement[bool]:
    current = table.c[VERSION_COLUMN]
    return or_(current.is_(None), and_(incoming.is_not(None), incoming >= current))
