"""Issue comments, generated on request: text, file, markup and `diff` history entries
(docs/revizto-api.md §4.7)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import format_uuid
from sandbox.timestamps import NEVER, format_timestamp

COMMENT_TYPES = ("text", "file", "markup", "diff")
COMMENT_WEIGHTS = (5, 2, 1, 3)
PRIORITIES = ("blocker", "critical", "major", "minor", "trivial", "none")
TEXTS = (
    "Checked on site, still open.",
    "Please confirm the clearance, min. 2,900 mm.",
    'Moved to "Level 2 - services" view.',
    "Coordinated with the MEP team; see attached.",
    "Bitte bis Freitag prüfen.",
    "Résolu dans la révision C.",
    "Line one\nline two: revised layout attached.",
)
# What a comment added through `/_sandbox/add-comments` says.
ADDED_TEXT = "Added by the sandbox"
FILES = (
    ("site-photo.jpg", "image/jpeg"),
    ("RFI-0042 response.pdf", "application/pdf"),
    (
        "clash report, level 3.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
)


@dataclass(frozen=True)
class CommentAuthor:
    firstname: str
    lastname: str
    email: str


@dataclass(frozen=True)
class CommentPlan:
    """What fixes an issue's comments: how many, over which time span, by whom."""

    rng_key: str
    count: int
    first: int
    last: int
    authors: tuple[CommentAuthor, ...]
    media_prefix: str
    status_uuids: tuple[str, ...]


def generate_comments(plan: CommentPlan) -> list[dict[str, Any]]:
    """All of an issue's comments, oldest first; the last one is dated `plan.last`."""
    if plan.count <= 0:
        return []
    rng = random.Random(plan.rng_key)
    first = min(plan.first, plan.last)
    times = sorted(rng.randint(first, plan.last) for _ in range(plan.count - 1))
    times.append(plan.last)
    return [_comment(rng, plan, index, created) for index, created in enumerate(times)]


def _comment(rng: random.Random, plan: CommentPlan, index: int, created: int) -> dict[str, Any]:
    author = rng.choice(plan.authors)
    kind = rng.choices(COMMENT_TYPES, COMMENT_WEIGHTS)[0]
    comment: dict[str, Any] = {
        "uuid": format_uuid(rng.randbytes(16)),
        "type": kind,
        "created": format_timestamp(created),
        "author": _author_json(author),
        "reporter": author.email,
    }
    if kind == "text":
        comment["text"] = rng.choice(TEXTS)
    elif kind in ("file", "markup"):
        filename, mimetype = ("markup.png", "image/png") if kind == "markup" else rng.choice(FILES)
        base = f"{plan.media_prefix}/comments/{rng.randbytes(4).hex()}"
        comment["filename"] = filename
        comment["mimetype"] = mimetype
        comment["preview"] = {
            "small": f"{base}_231x174",
            "middle": f"{base}_1024x1024",
            "original": base,
        }
    else:
        comment["diff"] = _diff(rng, plan, index)
    return comment


def added_comment(author: CommentAuthor, created: int) -> dict[str, Any]:
    """A `text` comment written at `created`, shaped like a generated one.

    Its uuid is random, not seeded: added comments are events of one run, and two of them
    on the same issue in the same second must still differ.
    """
    return {
        "uuid": str(uuid.uuid4()),
        "type": "text",
        "created": format_timestamp(created),
        "author": _author_json(author),
        "reporter": author.email,
        "text": ADDED_TEXT,
    }


def _author_json(author: CommentAuthor) -> dict[str, str]:
    return {"firstname": author.firstname, "lastname": author.lastname, "email": author.email}


def _diff(rng: random.Random, plan: CommentPlan, index: int) -> dict[str, Any]:
    field = rng.choice(("customStatus", "assignee", "title", "priority", "deadline", "watchers"))
    emails = [author.email for author in plan.authors]
    change: dict[str, Any]
    if field == "customStatus" and len(plan.status_uuids) >= 2:
        old, new = rng.sample(plan.status_uuids, 2)
        change = {"old": old, "new": new}
    elif field == "assignee":
        change = {"old": rng.choice(emails), "new": rng.choice(emails)}
    elif field == "title":
        change = {"old": f"Draft issue {index}", "new": f"Draft issue {index}, revised"}
    elif field == "deadline":
        change = {"old": NEVER, "new": f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 12:00:00"}
    elif field == "watchers":
        change = {"old": emails[:1], "new": emails[:2]}
    else:
        old, new = rng.sample(PRIORITIES, 2)
        change = {"old": old, "new": new}
        field = "priority"
    return {field: change}
