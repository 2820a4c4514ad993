"""Real captured issues (`--fixtures FILE`), served unchanged as extra projects.

The file holds `{"projects": [{"projectUuid": ..., "issues": [...]}]}`; comments are
generated to match each issue's `comments` count, because captures carry none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.comments import CommentAuthor, CommentPlan
from sandbox.issue_collection import IssueCollection
from sandbox.timestamps import NEVER, parse_timestamp

# Both carry the numeric project id: "revizto5://viewer/{id}/..." and ".../{id}/.static/...".
DESKTOP_LINK = re.compile(r"revizto5://viewer/(\d+)/")
MEDIA_LINK = re.compile(r"/(\d+)/\.static/issues/")


class FixtureError(ValueError):
    """The fixture file is not in the captured-issues format."""


@dataclass(frozen=True)
class FixtureProject:
    """One captured project: its uuid, the numeric id its links reveal, its issues."""

    uuid: str
    numeric_id: int | None
    issues: list[dict[str, Any]]


def load_fixture_projects(path: Path) -> list[FixtureProject]:
    """Read and check the capture file; FixtureError says what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FixtureError(f"cannot read fixtures {path}: {exc}") from exc
    projects = document.get("projects") if isinstance(document, dict) else None
    if not isinstance(projects, list):
        raise FixtureError(f"{path}: expected an object with a 'projects' list")
    loaded = []
    for index, project in enumerate(projects):
        if not isinstance(project, dict) or not isinstance(project.get("projectUuid"), str):
            raise FixtureError(f"{path}: projects[{index}] has no projectUuid")
        issues = project.get("issues")
        if not isinstance(issues, list) or not all(_is_issue(issue) for issue in issues):
            raise FixtureError(
                f"{path}: projects[{index}].issues must be issue objects with id and uuid"
            )
        loaded.append(FixtureProject(project["projectUuid"], _numeric_project_id(issues), issues))
    return loaded


def _is_issue(issue: Any) -> bool:
    return (
        isinstance(issue, dict)
        and isinstance(issue.get("id"), int)
        and isinstance(issue.get("uuid"), str)
    )


def _numeric_project_id(issues: list[dict[str, Any]]) -> int | None:
    for issue in issues:
        links = issue.get("openLinks")
        preview = issue.get("preview")
        candidates = [
            (DESKTOP_LINK, links.get("desktop") if isinstance(links, dict) else None),
            (MEDIA_LINK, preview.get("original") if isinstance(preview, dict) else None),
        ]
        for pattern, text in candidates:
            match = pattern.search(text) if isinstance(text, str) else None
            if match:
                return int(match.group(1))
    return None


class FixtureIssues(IssueCollection):
    """A captured project's issues, each served as the very object that was captured."""

    def __init__(self, project_key: str, project_id: int, issues: list[dict[str, Any]]) -> None:
        super().__init__()
        self.project_key = project_key
        self.project_id = project_id
        ordered = sorted(issues, key=lambda issue: int(issue["id"]))
        self._by_id = {int(issue["id"]): issue for issue in ordered}
        self._ids = list(self._by_id)
        self._updated = [_epoch(issue.get("updated"), 0) for issue in ordered]
        self._status_uuids = tuple(
            sorted({str(_value(issue, "customStatus")) for issue in ordered} - {"None"})
        )

    @property
    def original_ids(self) -> Sequence[int]:
        return self._ids

    @property
    def original_deleted_ids(self) -> Sequence[int]:
        return ()

    def updated_table(self) -> Sequence[int]:
        return self._updated

    def render(self, issue_id: int) -> dict[str, Any]:
        return self._by_id[issue_id]

    def render_deleted(self, issue_id: int) -> dict[str, Any]:
        raise KeyError(issue_id)

    def deleted_updated(self, issue_id: int) -> int:
        raise KeyError(issue_id)

    def uuid_pairs(self) -> Iterator[tuple[str, int]]:
        for issue_id, issue in self._by_id.items():
            yield str(issue["uuid"]), issue_id

    def original_comment_total(self) -> int:
        return sum(_comment_count(issue) for issue in self._by_id.values())

    def comment_plan(self, issue_id: int) -> CommentPlan:
        issue = self._by_id[issue_id]
        created = _epoch(_value(issue, "created"), 0)
        commented = issue.get("commented")
        last = _epoch(commented if commented != NEVER else issue.get("updated"), created)
        return CommentPlan(
            rng_key=f"fixture:{self.project_key}:{issue_id}:comments",
            count=_comment_count(issue),
            first=min(created + 60, last),
            last=last,
            authors=_authors(issue),
            media_prefix=f"https://media.example.invalid/{self.project_id}/.static/issues/{issue_id}",
            status_uuids=self._status_uuids,
        )


def _value(issue: dict[str, Any], field: str) -> Any:
    wrapped = issue.get(field)
    return wrapped.get("value") if isinstance(wrapped, dict) else None


def _epoch(text: Any, default: int) -> int:
    try:
        return parse_timestamp(text) if isinstance(text, str) else default
    except ValueError:
        return default


def _comment_count(issue: dict[str, Any]) -> int:
    count = issue.get("comments")
    return count if isinstance(count, int) and count > 0 else 0


def _authors(issue: dict[str, Any]) -> tuple[CommentAuthor, ...]:
    """The issue's author, reporter, assignee and watchers, as the people who comment."""
    authors: dict[str, CommentAuthor] = {}
    author = issue.get("author")
    if isinstance(author, dict) and isinstance(author.get("email"), str):
        authors[author["email"]] = CommentAuthor(
            str(author.get("firstname") or ""), str(author.get("lastname") or ""), author["email"]
        )
    watchers = _value(issue, "watchers")
    emails = [_value(issue, "reporter"), _value(issue, "assignee")]
    emails += watchers if isinstance(watchers, list) else []
    for email in emails:
        if isinstance(email, str) and email and email not in authors:
            authors[email] = CommentAuthor("Person", email.split("@")[0], email)
    return tuple(authors.values()) or (CommentAuthor("Person", "unknown", "unknown@example.com"),)
