"""One project's issues behind one interface: paging, the `synchronized` filter and the
sandbox-made edits (touches, deletions, added comments).

Subclasses only know how to render an issue and its cheap facts (uuid, updated time,
comment count) as the project started; nothing here materialises a project's issues, so a
100,000-issue project costs a few arrays, not 100,000 dicts. Edits are kept beside those
facts, keyed by issue id, and applied as pages are rendered.
"""

from __future__ import annotations

import bisect
import threading
from abc import ABC, abstractmethod
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.comments import CommentPlan, added_comment, generate_comments
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
    """Some issue ids asked for are not live issues of the project."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(ids)
        self.ids = ids


class IssueCollection(ABC):
    """The live and deleted issues of one project, rendered on demand."""

    def __init__(self) -> None:
        # Guards every sandbox-made edit below and the caches derived from them.
        self._lock = threading.Lock()
        self._touches: dict[int, Touch] = {}
        self._deletions: dict[int, int] = {}
        self._added_comments: dict[int, list[dict[str, Any]]] = {}
        # Live ids once some are deleted; None while `original_ids` still says it all.
        self._live_ids: array[int] | None = None
        self._generation = 0
        self._since_cache: OrderedDict[tuple[int, int], list[int]] = OrderedDict()
        self._index_lock = threading.Lock()
        self._uuid_index: dict[str, int] | None = None

    # --- what a subclass provides -------------------------------------------------------

    @property
    @abstractmethod
    def original_ids(self) -> Sequence[int]:
        """Ids of the issues live when the sandbox started, ascending."""

    @property
    @abstractmethod
    def original_deleted_ids(self) -> Sequence[int]:
        """Ids of the issues already deleted when the sandbox started, ascending."""

    @abstractmethod
    def updated_table(self) -> Sequence[int]:
        """Untouched `updated` unix times, aligned with `original_ids`."""

    @abstractmethod
    def render(self, issue_id: int) -> dict[str, Any]:
        """The untouched issue object for an original id; callers must not change it."""

    @abstractmethod
    def render_deleted(self, issue_id: int) -> dict[str, Any]:
        """The issue object for an originally deleted id, `deletedAt` set."""

    @abstractmethod
    def deleted_updated(self, issue_id: int) -> int:
        """When an originally deleted issue was deleted (its `updated`)."""

    @abstractmethod
    def uuid_pairs(self) -> Iterator[tuple[str, int]]:
        """(uuid, id) for every original issue."""

    @abstractmethod
    def comment_plan(self, issue_id: int) -> CommentPlan:
        """What the comments endpoint serves for an original issue, before added comments."""

    @abstractmethod
    def original_comment_total(self) -> int:
        """Sum of the original `comments` counts of the original issues."""

    def locations(self, issue: Mapping[str, Any]) -> dict[str, list[str]] | None:
        """The location object served for `issue` when a client asks for it; None serves
        the issue as it is (captured issues carry only what was captured)."""
        return None

    # --- reading --------------------------------------------------------------------------

    def live_ids(self) -> Sequence[int]:
        """The ids of the issues live now, ascending."""
        with self._lock:
            return self._live_ids_locked()

    def deleted_count(self) -> int:
        with self._lock:
            return len(self.original_deleted_ids) + len(self._deletions)

    def comment_total(self) -> int:
        """Sum of the `comments` counts the live issues are listed with now."""
        with self._lock:
            deleted = list(self._deletions)
            added = sum(
                len(comments)
                for issue_id, comments in self._added_comments.items()
                if issue_id not in self._deletions
            )
        gone = sum(self.comment_plan(issue_id).count for issue_id in deleted)
        return self.original_comment_total() - gone + added

    def page(self, since: int | None, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of live issues (ascending id) updated at or after `since`, and the total."""
        matching = self.live_ids() if since is None else self._matching_ids(since)
        chosen = matching[page * limit : (page + 1) * limit]
        return [self._render_live(issue_id) for issue_id in chosen], len(matching)

    def deleted_page(
        self, since: int | None, page: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of deleted issues (ascending id) deleted at or after `since`, and the total."""
        with self._lock:
            deleted_now = dict(self._deletions)

        def deleted_when(issue_id: int) -> int:
            when = deleted_now.get(issue_id)
            return self.deleted_updated(issue_id) if when is None else when

        matching = [
            issue_id
            for issue_id in sorted([*self.original_deleted_ids, *deleted_now])
            if since is None or deleted_when(issue_id) >= since
        ]
        chosen = matching[page * limit : (page + 1) * limit]
        issues = [
            self.render_deleted(issue_id)
            if issue_id not in deleted_now
            else mark_deleted(self._render_live(issue_id), deleted_now[issue_id])
            for issue_id in chosen
        ]
        return issues, len(matching)

    def comments(self, issue_id: int) -> list[dict[str, Any]]:
        """A live issue's comments, oldest first: the generated ones, then the added ones."""
        with self._lock:
            added = list(self._added_comments.get(issue_id, ()))
        return generate_comments(self.comment_plan(issue_id)) + added

    def contains(self, issue_id: int) -> bool:
        """Whether `issue_id` is a live issue now."""
        with self._lock:
            return self._is_live_locked(issue_id)

    def issue_id_for(self, issue_uuid: str) -> int | None:
        """The live issue with this uuid (dashed or not, any case), built into an index once."""
        # Its own lock: building the index of a big project must not stall page reads.
        with self._index_lock:
            if self._uuid_index is None:
                self._uuid_index = {
                    uuid_key(uuid): issue_id for uuid, issue_id in self.uuid_pairs()
                }
            issue_id = self._uuid_index.get(uuid_key(issue_uuid))
        # The index holds the original issues; a deleted one must look unknown.
        return issue_id if issue_id is not None and self.contains(issue_id) else None

    # --- sandbox-made edits -------------------------------------------------------------

    def touch(self, issue_ids: list[int], now: int) -> None:
        """Make the issues look edited at `now`; UnknownIssues if any id is not live."""
        with self._lock:
            self._require_live_locked(issue_ids)
            self._touch_locked(issue_ids, now)

    def delete(self, issue_ids: list[int], now: int) -> None:
        """Delete the issues at `now`; UnknownIssues if any id is not live.

        Deleting is once: the recorded time never moves, so `deletedAt` reads the same
        every time.
        """
        with self._lock:
            self._require_live_locked(issue_ids)
            for issue_id in issue_ids:
                self._deletions[issue_id] = now
            self._live_ids = None
            self._changed_locked()

    def add_comments(self, issue_ids: list[int], now: int) -> None:
        """Append one comment written at `now` to each issue, which touches it too;
        UnknownIssues if any id is not live."""
        with self._lock:
            self._require_live_locked(issue_ids)
            for issue_id in issue_ids:
                added = self._added_comments.setdefault(issue_id, [])
                authors = self.comment_plan(issue_id).authors
                # Take turns so several added comments do not all come from one person.
                added.append(added_comment(authors[len(added) % len(authors)], now))
            # Assumed [I]: a comment bumps its issue's `updated` (docs/revizto-api.md §4.7).
            self._touch_locked(issue_ids, now)

    # --- internals (the `_locked` ones expect `self._lock` held) --------------------------

    def _render_live(self, issue_id: int) -> dict[str, Any]:
        with self._lock:
            touch = self._touches.get(issue_id)
            added = list(self._added_comments.get(issue_id, ()))
        issue = self.render(issue_id)
        if touch is not None:
            issue = _touched(issue, touch)
        if added:
            issue = _commented(issue, added)
        return issue

    def _live_ids_locked(self) -> Sequence[int]:
        if not self._deletions:
            return self.original_ids
        if self._live_ids is None:
            self._live_ids = array("q", (i for i in self.original_ids if i not in self._deletions))
        return self._live_ids

    def _is_live_locked(self, issue_id: int) -> bool:
        if issue_id in self._deletions:
            return False
        ids = self.original_ids
        position = bisect.bisect_left(ids, issue_id)
        return position < len(ids) and ids[position] == issue_id

    def _require_live_locked(self, issue_ids: list[int]) -> None:
        unknown = [issue_id for issue_id in issue_ids if not self._is_live_locked(issue_id)]
        if unknown:
            raise UnknownIssues(unknown)

    def _touch_locked(self, issue_ids: list[int], now: int) -> None:
        for issue_id in issue_ids:
            before = self._touches.get(issue_id)
            self._touches[issue_id] = Touch(now, (before.count if before else 0) + 1)
        self._changed_locked()

    def _changed_locked(self) -> None:
        """Any edit can change which issues a watermark matches: forget cached answers."""
        self._generation += 1
        self._since_cache.clear()

    def _matching_ids(self, since: int) -> list[int]:
        with self._lock:
            key = (since, self._generation)
            cached = self._since_cache.get(key)
            if cached is not None:
                self._since_cache.move_to_end(key)
                return cached
            deleted = set(self._deletions)
            touched = {
                issue_id
                for issue_id, t in self._touches.items()
                if t.updated >= since and issue_id not in deleted
            }
        # Touches only move `updated` forward, so untouched times decide everything else.
        result = [
            issue_id
            for issue_id, updated in zip(self.original_ids, self.updated_table(), strict=True)
            if updated >= since and issue_id not in deleted
        ]
        if touched:
            result = sorted(touched.union(result))
        with self._lock:
            self._since_cache[key] = result
            while len(self._since_cache) > SINCE_CACHE_SIZE:
                self._since_cache.popitem(last=False)
        return result


def mark_deleted(issue: dict[str, Any], when: int) -> dict[str, Any]:
    """A copy of `issue` as filter_deleted lists it: updated and `deletedAt` at `when`."""
    stamp = format_timestamp(when)
    deleted = dict(issue)
    deleted["updated"] = stamp
    deleted["deletedAt"] = {"value": stamp, "timestamp": stamp}
    return deleted


def _touched(issue: dict[str, Any], touch: Touch) -> dict[str, Any]:
    """A copy of `issue` as it looks after the touch; the original stays as it was."""
    stamp = format_timestamp(touch.updated)
    changed = dict(issue)
    changed["updated"] = stamp
    changed["version"] = int(issue.get("version") or 0) + touch.count
    if isinstance(issue.get("title"), dict):
        changed["title"] = {**issue["title"], "timestamp": stamp}
    return changed


def _commented(issue: dict[str, Any], added: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of `issue` counting the added comments, `commented` at the newest of them."""
    changed = dict(issue)
    count = issue.get("comments")
    changed["comments"] = (count if isinstance(count, int) else 0) + len(added)
    changed["commented"] = added[-1]["created"]
    return changed
