"""One project's issues behind one interface: paging, the `synchronized` filter and touches.

Subclasses only know how to render an issue and its cheap facts (uuid, updated time,
comment count); nothing here materialises a project's issues, so a 100,000-issue project
costs a few arrays, not 100,000 dicts.
"""

from __future__ import annotations

import bisect
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.comments import CommentPlan
from sandbox.identifiers import uuid_key
from sandbox.timestamps import format_timestamp

# Distinct watermarks clients use at once are few; each cached result is one id list.
SINCE_CACHE_SIZE = 8


@dataclass(frozen=True)
class Touch:
    """A sandbox-made edit: the issue looks updated at `updated`, `count` times over."""

    updated: int
    count: int


class UnknownIssues(KeyError):
    """Some issue ids asked for do not exist in the project."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(ids)
        self.ids = ids


class IssueCollection(ABC):
    """The live and deleted issues of one project, rendered on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._touches: dict[int, Touch] = {}
        self._touch_generation = 0
        self._since_cache: OrderedDict[tuple[int, int], list[int]] = OrderedDict()
        self._index_lock = threading.Lock()
        self._uuid_index: dict[str, int] | None = None

    # --- what a subclass provides -------------------------------------------------------

    @property
    @abstractmethod
    def ids(self) -> Sequence[int]:
        """Live issue ids, ascending."""

    @property
    @abstractmethod
    def deleted_ids(self) -> Sequence[int]:
        """Deleted issue ids, ascending."""

    @abstractmethod
    def updated_table(self) -> Sequence[int]:
        """Untouched `updated` unix times, aligned with `ids`."""

    @abstractmethod
    def render(self, issue_id: int) -> dict[str, Any]:
        """The untouched issue object for a live id."""

    @abstractmethod
    def render_deleted(self, issue_id: int) -> dict[str, Any]:
        """The issue object for a deleted id, `deletedAt` set."""

    @abstractmethod
    def deleted_updated(self, issue_id: int) -> int:
        """When a deleted issue was deleted (its `updated`)."""

    @abstractmethod
    def uuid_pairs(self) -> Iterator[tuple[str, int]]:
        """(uuid, id) for every live issue."""

    @abstractmethod
    def comment_plan(self, issue_id: int) -> CommentPlan:
        """What the comments endpoint serves for a live issue."""

    @abstractmethod
    def total_comments(self) -> int:
        """Sum of the `comments` counts of the live issues."""

    # --- shared behaviour ---------------------------------------------------------------

    def page(self, since: int | None, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of live issues (ascending id) updated at or after `since`, and the total."""
        matching = self.ids if since is None else self._matching_ids(since)
        chosen = matching[page * limit : (page + 1) * limit]
        with self._lock:
            touches = {issue_id: self._touches.get(issue_id) for issue_id in chosen}
        issues = []
        for issue_id in chosen:
            issue = self.render(issue_id)
            touch = touches[issue_id]
            issues.append(issue if touch is None else _touched(issue, touch))
        return issues, len(matching)

    def deleted_page(
        self, since: int | None, page: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of deleted issues, filtered like `page`."""
        matching = [
            issue_id
            for issue_id in self.deleted_ids
            if since is None or self.deleted_updated(issue_id) >= since
        ]
        chosen = matching[page * limit : (page + 1) * limit]
        return [self.render_deleted(issue_id) for issue_id in chosen], len(matching)

    def touch(self, issue_ids: list[int], now: int) -> None:
        """Make the issues look edited at `now`; UnknownIssues if any id is not live."""
        unknown = [issue_id for issue_id in issue_ids if not self.contains(issue_id)]
        if unknown:
            raise UnknownIssues(unknown)
        with self._lock:
            for issue_id in issue_ids:
                before = self._touches.get(issue_id)
                self._touches[issue_id] = Touch(now, (before.count if before else 0) + 1)
            self._touch_generation += 1
            self._since_cache.clear()

    def contains(self, issue_id: int) -> bool:
        ids = self.ids
        position = bisect.bisect_left(ids, issue_id)
        return position < len(ids) and ids[position] == issue_id

    def issue_id_for(self, issue_uuid: str) -> int | None:
        """The live issue with this uuid (dashed or not, any case), built into an index once."""
        # Its own lock: building the index of a big project must not stall page reads.
        with self._index_lock:
            if self._uuid_index is None:
                self._uuid_index = {
                    uuid_key(uuid): issue_id for uuid, issue_id in self.uuid_pairs()
                }
            return self._uuid_index.get(uuid_key(issue_uuid))

    def _matching_ids(self, since: int) -> list[int]:
        with self._lock:
            key = (since, self._touch_generation)
            cached = self._since_cache.get(key)
            if cached is not None:
                self._since_cache.move_to_end(key)
                return cached
            touched = {issue_id for issue_id, t in self._touches.items() if t.updated >= since}
        # Touches only move `updated` forward, so untouched times decide everything else.
        result = [
            issue_id
            for issue_id, updated in zip(self.ids, self.updated_table(), strict=True)
            if updated >= since
        ]
        if touched:
            result = sorted(touched.union(result))
        with self._lock:
            self._since_cache[key] = result
            while len(self._since_cache) > SINCE_CACHE_SIZE:
                self._since_cache.popitem(last=False)
        return result


def _touched(issue: dict[str, Any], touch: Touch) -> dict[str, Any]:
    """A copy of `issue` as it looks after the touch; the original stays as it was."""
    stamp = format_timestamp(touch.updated)
    changed = dict(issue)
    changed["updated"] = stamp
    changed["version"] = int(issue.get("version") or 0) + touch.count
    if isinstance(issue.get("title"), dict):
        changed["title"] = {**issue["title"], "timestamp": stamp}
    return changed
