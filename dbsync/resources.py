"""Which table each exported resource goes to, and how one of its records becomes a row.

`scope` is the uuid in the file's name: the project for project resources, the licence
for licence members, None for the account-wide lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from dbsync import schema
from dbsync.rows import (
    Row,
    RowBuilder,
    Unexpected,
    boolean,
    integer,
    text,
    timestamp,
    unwrap,
)


@dataclass(frozen=True)
class Target:
    table: Table
    to_row: Callable[[RowBuilder, dict[str, Any], str | None], Row]


def _license(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    return {
        "uuid": r["uuid"],
        **b.row(
            "revizto_licenses",
            r,
            {
                "id": (integer, r.get("id")),
                "name": (text, r.get("name")),
                "region": (text, r.get("region")),
                "frozen": (boolean, r.get("frozen")),
            },
        ),
    }


def _project(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    return {
        "uuid": r["uuid"],
        **b.row(
            "revizto_projects",
            r,
            {
                "id": (integer, r.get("id")),
                "license_id": (integer, r.get("license_id")),
                "title": (text, r.get("title")),
                "archived": (boolean, r.get("archived")),
                "frozen": (boolean, r.get("frozen")),
                "updated": (timestamp, r.get("updated")),
            },
        ),
    }


def _member(scope_kind: str) -> Callable[[RowBuilder, dict[str, Any], str | None], Row]:
    def to_row(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
        user = r.get("user") if isinstance(r.get("user"), dict) else {}
        email = r.get("email", (user or {}).get("email"))
        return {
            "scope_uuid": scope,
            "uuid": r["uuid"],
            "scope": scope_kind,
            **b.row("revizto_members", r, {"email": (text, email), "role": (text, r.get("role"))}),
        }

    return to_row


def _workflow(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    return {"project_uuid": scope, **b.row("revizto_workflows", r, {})}


def _stamp(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    typed = {"title": (text, r.get("title")), "node_role": (integer, r.get("nodeRole"))}
    return {"project_uuid": scope, "uuid": r["uuid"], **b.row("revizto_stamps", r, typed)}


def _sheet(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    typed = {"title": (text, r.get("title")), "sheet_number": (text, r.get("sheetNumber"))}
    return {"project_uuid": scope, "uuid": r["uuid"], **b.row("revizto_sheets", r, typed)}


def _issue(deleted: bool) -> Callable[[RowBuilder, dict[str, Any], str | None], Row]:
    def to_row(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
        # A tombstone's deletion time is Revizto's own, so re-syncing it changes nothing.
        deleted_at = (unwrap(r.get("deletedAt")) or r.get("updated")) if deleted else None
        return {
            "uuid": r["uuid"],
            "project_uuid": scope,
            **b.row(
                "revizto_issues",
                r,
                {
                    "id": (integer, r.get("id")),
                    "title": (text, r.get("title")),
                    "status": (text, r.get("status")),
                    "priority": (text, r.get("priority")),
                    "created": (timestamp, r.get("created")),
                    "updated": (timestamp, r.get("updated")),
                    "deleted_at": (_deletion_time(b) if deleted else timestamp, deleted_at),
                },
            ),
        }

    return to_row


def _deletion_time(b: RowBuilder) -> Callable[[Any], Any]:
    """A tombstone's `deleted_at`: Revizto's time, or, when that cannot be read, the export's
    (a deleted issue must never look live)."""

    def convert(value: Any) -> Any:
        try:
            return timestamp(value) or b.exported_at
        except Unexpected:
            return b.exported_at

    return convert


def _comment(b: RowBuilder, r: dict[str, Any], scope: str | None) -> Row:
    # The export writes {"issue": {"id", "uuid"}, "comment": <Revizto's comment>}.
    comment = r["comment"]
    author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
    return {
        "issue_uuid": r["issue"]["uuid"],
        "uuid": comment["uuid"],
        "project_uuid": scope,
        **b.row(
            "revizto_comments",
            comment,
            {
                "issue_id": (integer, r["issue"].get("id")),
                "type": (text, comment.get("type")),
                "author_email": (text, (author or {}).get("email", comment.get("reporter"))),
                "created": (timestamp, comment.get("created")),
            },
        ),
    }


TARGETS: dict[str, Target] = {
    "licenses": Target(schema.licenses, _license),
    "projects": Target(schema.projects, _project),
    "license_members": Target(schema.members, _member("license")),
    "members": Target(schema.members, _member("project")),
    "workflows": Target(schema.workflows, _workflow),
    "stamps": Target(schema.stamps, _stamp),
    "sheets": Target(schema.sheets, _sheet),
    "issues": Target(schema.issues, _issue(deleted=False)),
    "deleted_issues": Target(schema.issues, _issue(deleted=True)),
    "comments": Target(schema.comments, _comment),
}
# Loaded in this order within a unit: tombstones after the live issues of the same run.
ORDER = list(TARGETS)
