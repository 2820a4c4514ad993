"""The tables a database destination holds, as SQLAlchemy Core.

Every row keeps `raw`, the object exactly as Revizto returned it (JSONB on PostgreSQL,
JSON elsewhere), beside typed columns people query, and `exported_at`/`job_id` (which
export wrote it last). Keys are Revizto's natural keys, so a re-sync upserts in place.
Timestamps are UTC without a zone, as Revizto sends them.

This module is the schema as of the newest migration (dbsync/migrations/versions);
migrations create and alter it, nothing calls `create_all` on a real database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

RAW = JSON().with_variant(JSONB(), "postgresql")
UUID_LENGTH = 36
VIEW = "revizto_issues_view"
VERSION_TABLE = "revizto_alembic_version"  # Alembic's record of the applied migrations

metadata = MetaData()


def _uuid(name: str, **options: bool) -> Column[str]:
    return Column(name, String(UUID_LENGTH), **options)  # type: ignore[arg-type]


def _common() -> list[Column[object]]:
    return [
        Column("raw", RAW, nullable=False),
        Column("exported_at", DateTime, nullable=False),
        Column("job_id", String(32), nullable=False),
    ]


licenses = Table(
    "revizto_licenses",
    metadata,
    _uuid("uuid", primary_key=True),
    Column("id", BigInteger),
    Column("name", Text),
    Column("region", String(64)),
    Column("frozen", Boolean),
    *_common(),
)

projects = Table(
    "revizto_projects",
    metadata,
    _uuid("uuid", primary_key=True),
    Column("id", BigInteger),
    Column("license_id", BigInteger),  # Revizto's project names its licence by integer id
    Column("title", Text),
    Column("archived", Boolean),
    Column("frozen", Boolean),
    Column("updated", DateTime),
    *_common(),
)

# Licence members and project members: `scope` says which, `scope_uuid` is the licence
# or the project.
members = Table(
    "revizto_members",
    metadata,
    _uuid("scope_uuid", primary_key=True),
    _uuid("uuid", primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("email", String(320)),
    Column("role", String(64)),
    *_common(),
)

workflows = Table(
    "revizto_workflows",
    metadata,
    _uuid("project_uuid", primary_key=True),
    *_common(),
)

stamps = Table(
    "revizto_stamps",
    metadata,
    _uuid("project_uuid", primary_key=True),
    _uuid("uuid", primary_key=True),
    Column("title", Text),
    Column("node_role", Integer),
    *_common(),
)

sheets = Table(
    "revizto_sheets",
    metadata,
    _uuid("project_uuid", primary_key=True),
    _uuid("uuid", primary_key=True),
    Column("title", Text),
    Column("sheet_number", String(255)),
    *_common(),
)

issues = Table(
    "revizto_issues",
    metadata,
    _uuid("uuid", primary_key=True),
    Column("id", BigInteger),
    _uuid("project_uuid", nullable=False, index=True),
    Column("title", Text),
    Column("status", String(255)),
    Column("priority", String(64)),
    Column("created", DateTime),
    Column("updated", DateTime),
    # Revizto's deletion time, from its deleted-issues list; deleted issues stay as rows.
    Column("deleted_at", DateTime),
    *_common(),
)

# A comment has no link to its issue in Revizto's reply; the export supplies it.
comments = Table(
    "revizto_comments",
    metadata,
    _uuid("issue_uuid", primary_key=True),
    _uuid("uuid", primary_key=True),
    _uuid("project_uuid", nullable=False, index=True),
    Column("issue_id", BigInteger),
    Column("type", String(32)),
    Column("author_email", String(320)),
    Column("created", DateTime),
    *_common(),
)

# As the original tool's vReviztoProjectIssues: live issues with their project and licence.
VIEW_SQL = """
CREATE VIEW revizto_issues_view AS
SELECT i.uuid, i.id, i.project_uuid, p.title AS project_title, l.uuid AS license_uuid,
       l.name AS license_name, i.title, i.status, i.priority, i.created, i.updated,
       i.exported_at
FROM revizto_issues i
LEFT JOIN revizto_projects p ON p.uuid = i.project_uuid
LEFT JOIN revizto_licenses l ON l.id = p.license_id
WHERE i.deleted_at IS NULL
"""
