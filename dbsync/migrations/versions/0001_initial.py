"""The first schema: the eight tables and the issues view.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from dbsync import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Created as dbsync/schema.py defines them today. Before schema.py changes, copy these
# definitions into this file, then add a revision that alters the tables.
TABLES = [
    schema.licenses,
    schema.projects,
    schema.members,
    schema.workflows,
    schema.stamps,
    schema.sheets,
    schema.issues,
    schema.comments,
]


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    op.execute(schema.VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW revizto_issues_view")
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
