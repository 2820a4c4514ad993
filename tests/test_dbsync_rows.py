"""Revizto objects as rows (pure logic): typed columns, and values of unexpected types
kept in `raw` with the column left null and one warning per column."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from dbsync.resources import TARGETS
from dbsync.rows import RowBuilder
from dbsync.schema import VIEW, VIEW_SQL

BUILDER = RowBuilder("f" * 32, datetime(2026, 12, 1, 4, 0, 0))
PROJECT = "2e09e63a-7a8a-4eee-b193-56a3175d2b12"


def issue(**fields: object) -> dict[str, object]:
    return {
        "id": 7,
        "uuid": "0b6f3f8e-2f7a-4a8e-9c39-1b2d3e4f5a6b",
        "title": {"value": "Clash at grid C4", "timestamp": "2026-11-30 17:23:26"},
        "status": {"value": "open", "timestamp": "2000-01-01 00:00:00"},
        "priority": {"value": "major", "timestamp": "2000-01-01 00:00:00"},
        "created": {"value": "2026-11-01 08:00:00", "timestamp": "2000-01-01 00:00:00"},
        "updated": "2026-11-30 17:23:26",
        "deletedAt": {"value": None, "timestamp": "2000-01-01 00:00:00"},
        **fields,
    }


def test_an_issue_becomes_typed_columns_and_its_raw_object() -> None:
    record = issue()
    row = TARGETS["issues"].to_row(BUILDER, record, PROJECT)
    assert row["raw"] is record
    assert (row["id"], row["title"], row["status"], row["priority"]) == (
        7,
        "Clash at grid C4",
        "open",
        "major",
    )
    assert row["created"] == datetime(2026, 11, 1, 8, 0, 0)
    assert row["updated"] == datetime(2026, 11, 30, 17, 23, 26)
    assert row["deleted_at"] is None
    assert (row["project_uuid"], row["job_id"]) == (PROJECT, "f" * 32)


def test_a_tombstone_takes_revizto_s_deletion_time() -> None:
    record = issue(deletedAt={"value": "2026-11-30 18:00:00", "timestamp": "x"})
    row = TARGETS["deleted_issues"].to_row(BUILDER, record, PROJECT)
    assert row["deleted_at"] == datetime(2026, 11, 30, 18, 0, 0)


def test_an_unexpected_type_leaves_the_column_null_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dbsync.rows")
    odd = issue(title={"value": {"nested": True}, "timestamp": "x"}, priority=["high"])
    first = TARGETS["issues"].to_row(BUILDER, odd, PROJECT)
    second = TARGETS["issues"].to_row(BUILDER, odd, PROJECT)
    assert first["title"] is None and second["priority"] is None  # noqa: PT018
    assert first["raw"]["title"] == {"value": {"nested": True}, "timestamp": "x"}
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("column=title" in w for w in warnings) == 1
    assert sum("column=priority" in w for w in warnings) == 1


def test_a_comment_row_names_its_issue() -> None:
    record = {
        "issue": {"id": 7, "uuid": "0b6f3f8e-2f7a-4a8e-9c39-1b2d3e4f5a6b"},
        "comment": {
            "uuid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "type": "text",
            "created": "2026-11-30 17:23:26",
            "author": {"email": "alex.morgan@example.com"},
            "text": "Checked on site",
        },
    }
    row = TARGETS["comments"].to_row(BUILDER, record, PROJECT)
    assert row["raw"] is record["comment"]
    assert (row["issue_uuid"], row["uuid"], row["issue_id"]) == (
        "0b6f3f8e-2f7a-4a8e-9c39-1b2d3e4f5a6b",
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        7,
    )
    assert row["author_email"] == "alex.morgan@example.com"


def test_a_tombstone_without_a_readable_time_is_still_deleted() -> None:
    record = issue(deletedAt={"value": "yesterday", "timestamp": "x"}, updated=None)
    row = TARGETS["deleted_issues"].to_row(BUILDER, record, PROJECT)
    assert row["deleted_at"] == BUILDER.exported_at


def test_the_view_statement_creates_the_view_the_schema_names() -> None:
    # The view is created and dropped by name in different places (migration, tests)
    assert f"CREATE VIEW {VIEW} AS" in VIEW_SQL
