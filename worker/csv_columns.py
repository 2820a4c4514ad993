"""How issues and comments become CSV rows: documented columns in a stable order.

Rules (also in the README): `{value, timestamp}` pairs are unwrapped to their value; the
"never" sentinel `2000-01-01 00:00:00` becomes an empty cell; Revizto's other timestamps
(`YYYY-MM-DD HH:MM:SS`, UTC) become RFC 3339 (`2026-11-30T17:23:26Z`); lists of scalars
are joined with `;`; objects and lists of objects are written as compact JSON text;
Revizto's `[]` for an empty object becomes an empty cell; None becomes an empty cell.
A text cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a
tab or a carriage return) gets a leading `'`, as OWASP advises against CSV injection;
numbers are left alone, and NDJSON and JSON keep Revizto's values exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobs.timestamps import REVIZTO_NEVER, REVIZTO_TIMESTAMP, revizto_to_rfc3339

NEVER = REVIZTO_NEVER
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"
ISSUE_TYPE, CLASH_TYPE = 1, 3  # an issue's `type` (docs/revizto-api.md §4.6)

Row = Mapping[str, Any]
Extractor = Callable[[Row], Any]


def unwrap(value: Any) -> Any:
    """The `value` of a `{value, timestamp}` pair; anything else unchanged."""
    if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "timestamp"}:
        return value["value"]
    return value


def cell(value: Any) -> str:
    """One CSV cell, by the rules in the module docstring."""
    value = unwrap(value)
    if value is None or value == NEVER or value == []:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and REVIZTO_TIMESTAMP.fullmatch(value):
        return revizto_to_rfc3339(value) or ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _inert(value)
    if isinstance(value, Sequence) and all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        return _inert(LIST_SEPARATOR.join(str(item) for item in value))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _inert(text: str) -> str:
    """Text a spreadsheet shows as text, never evaluates (CSV injection)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def field(name: str) -> Extractor:
    return lambda row: row.get(name)


def nested(*path: str) -> Extractor:
    def extract(row: Row) -> Any:
        current: Any = row
        for key in path:
            current = unwrap(current)
            if not isinstance(current, Mapping):
                return None
            current = current.get(key)
        return current

    return extract


def person_name(*path: str) -> Extractor:
    def extract(row: Row) -> Any:
        person = nested(*path)(row)
        if not isinstance(person, Mapping):
            return None
        parts = [person.get("firstname"), person.get("lastname")]
        return " ".join(str(p) for p in parts if p) or None

    return extract


def is_clash(row: Row) -> Any:
    """`true` for a clash (Revizto's issue `type` 3), `false` for an ordinary issue (1)."""
    kind = row.get("type")
    if type(kind) is not int:  # bool is an int too; neither it nor text is a known type
        return None
    return {CLASH_TYPE: True, ISSUE_TYPE: False}.get(kind)


def location(key: str) -> Extractor:
    """One list of `clashAndLocationFields`, which Revizto sends only when asked for it
    (docs/revizto-api.md §4.6): absent, the cell is empty."""
    return nested("clashAndLocationFields", key)


# (column, extractor). The export adds `projectUuid` first; the rest come from the issue.
# New columns go last, so readers that count columns keep working.
ISSUE_COLUMNS: list[tuple[str, Extractor]] = [
    ("id", field("id")),
    ("uuid", field("uuid")),
    ("title", field("title")),
    ("status", field("status")),
    ("customStatus", field("customStatus")),
    ("customStatusName", field("customStatusName")),
    ("customType", field("customType")),
    ("customTypeName", field("customTypeName")),
    ("priority", field("priority")),
    ("assignee", field("assignee")),
    ("reporter", field("reporter")),
    ("watchers", field("watchers")),
    ("tags", field("tags")),
    ("deadline", field("deadline")),
    ("created", field("created")),
    ("updated", field("updated")),
    ("commented", field("commented")),
    ("comments", field("comments")),
    ("stampAbbr", field("stampAbbr")),
    ("stampColor", field("stampColor")),
    ("stampScale", field("stampScale")),
    ("visibility", field("visibility")),
    ("type", field("type")),
    ("version", field("version")),
    ("deletedAt", field("deletedAt")),
    ("author.email", nested("author", "email")),
    ("author.name", person_name("author")),
    ("sheet.uuid", nested("sheet", "uuid")),
    ("sheet.name", nested("sheet", "name")),
    ("sheet.number", nested("sheet", "number")),
    ("preview.original", nested("preview", "original")),
    ("openLinks.web", nested("openLinks", "web")),
    ("openLinks.desktop", nested("openLinks", "desktop")),
    ("clashes", field("clashes")),
    ("cdeLinks", field("cdeLinks")),
    ("level", location("level")),
    ("zone", location("zone")),
    ("room", location("room")),
    ("area", location("area")),
    ("grid", location("grid")),
    ("isClash", is_clash),
]

# Comments are exported with the issue they belong to (Revizto's comment has no link back).
COMMENT_COLUMNS: list[tuple[str, Extractor]] = [
    ("issueId", nested("issue", "id")),
    ("issueUuid", nested("issue", "uuid")),
    ("uuid", nested("comment", "uuid")),
    ("type", nested("comment", "type")),
    ("created", nested("comment", "created")),
    ("author.email", nested("comment", "author", "email")),
    ("author.name", person_name("comment", "author")),
    ("reporter", nested("comment", "reporter")),
    ("text", nested("comment", "text")),
    ("filename", nested("comment", "filename")),
    ("mimetype", nested("comment", "mimetype")),
    ("preview.original", nested("comment", "preview", "original")),
    ("diff", nested("comment", "diff")),
]


def generic_columns(records: Sequence[Row]) -> list[tuple[str, Extractor]]:
    """For small resources: every top-level key, in order of first appearance."""
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(str(key), None)
    return [(name, field(name)) for name in names]
