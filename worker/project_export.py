"""ProjectExporter: one project's resources, streamed page by page into its files, with a
checkpoint after every issue page so an interrupted unit resumes instead of starting over.

Small resources (members, workflows, stamps, sheets) are each one file, written in one go;
a file an earlier delivery committed is not fetched again. Issues are read page by page;
comments are fetched for a few issues at a time in parallel (Revizto has one comments
call per issue, so latency, not bandwidth, limits an export) and written in issue order,
each issue's comments right after it. When the last issue of a page has been written,
the byte offsets and record counts of both files are checkpointed on the unit: a unit
redelivered after a crash copies that prefix and goes on from the next page, where the
export storage can (files on disk); in object storage it starts its issues over
(jobs/storage/s3.py says why).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.model import ProjectRef
from jobs.request import ExportRequest
from jobs.storage import FileCheckpoint, ResumeImpossible
from jobs.store import Write
from revizto.client import ReviztoClient
from revizto.pagination import Page
from worker.unit_output import UnitOutput
from worker.unit_run import UnitRun
from worker.writers import RecordWriter

log = logging.getLogger(__name__)

# How many issues' comments may be fetched ahead of the writer, per worker thread.
LOOKAHEAD_PER_THREAD = 4
COMMENT_OVERLAP = timedelta(days=1)


@dataclass
class IssueCheckpoint:
    """Where an issue walk stopped: the next page, and the good prefix of each file."""

    next_page: int = 0
    watermark: str | None = None
    issues_seen: int = 0
    files: dict[str, FileCheckpoint] = field(default_factory=dict)

    def to_text(self) -> str:
        return json.dumps(
            {
                "next_page": self.next_page,
                "watermark": self.watermark,
                "issues_seen": self.issues_seen,
                "files": {k: v.to_json() for k, v in self.files.items()},
            }
        )

    @classmethod
    def from_text(cls, raw: str | None) -> IssueCheckpoint | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(
            next_page=int(data["next_page"]),
            watermark=data.get("watermark"),
            issues_seen=int(data.get("issues_seen", 0)),
            files={k: FileCheckpoint.from_json(v) for k, v in data["files"].items()},
        )


@dataclass
class _Pending:
    """An issue waiting to be written, with its comments being fetched."""

    issue: dict[str, Any]
    comments: Future[list[dict[str, Any]]] | None
    ends_page: Page | None = None  # set on the last issue of a page


class ProjectExporter:
    def __init__(
        self,
        client: ReviztoClient,
        request: ExportRequest,
        project: ProjectRef,
        output: UnitOutput,
        run: UnitRun,
        *,
        since: str | None = None,
        comment_concurrency: int,
        checkpoint: IssueCheckpoint | None = None,
    ) -> None:
        self.client = client
        self.request = request
        self.project = project
        self.output = output
        self.unit_run = run
        self.comment_concurrency = comment_concurrency
        self.checkpoint = checkpoint
        self.since = since
        self.watermark: str | None = None

    def run(self) -> None:
        uuid = self.project.uuid
        small: list[tuple[str, Callable[[], Iterable[dict[str, Any]]]]] = [
            ("members", lambda: self.client.project_team(uuid)),
            ("workflows", lambda: [self.client.issue_workflow_settings(uuid)]),
            ("stamps", lambda: self.client.iter_stamps(uuid)),
            ("sheets", lambda: self.client.sheets(uuid)),
        ]
        for resource, fetch in small:
            if self.request.wants(resource):
                if not self.output.done(self.output.name(resource, scope_uuid=uuid)):
                    self.output.write_all(resource, fetch(), scope_uuid=uuid)
                self.unit_run.check()
        wanted = [r for r in ("issues", "comments") if self.request.wants(r)]
        if wanted and not all(
            self.output.done(self.output.name(r, scope_uuid=uuid)) for r in wanted
        ):
            self._issues_and_comments(wanted)
        # Tombstones: the issues deleted since `since` (all of them on a full export), so a
        # downstream copy learns of deletions too. Read after the issue walk, whose first
        # page took the new watermark: every deletion before that watermark is in this run
        # (one after it may come again next time, which is harmless).
        deleted = self.output.name("deleted_issues", scope_uuid=uuid)
        if self.request.wants("issues") and not self.output.done(deleted):
            self.output.write_all(
                "deleted_issues",
                self.client.iter_issues(uuid, deleted=True, synchronized=self.since),
                scope_uuid=uuid,
            )

    # -- issues and comments ---------------------------------------------------------------------

    def _open(self, resources: list[str]) -> tuple[dict[str, RecordWriter], IssueCheckpoint]:
        """Writers for `resources`, resumed from the checkpoint when it is usable."""
        checkpoint = self.checkpoint
        if checkpoint is not None and set(checkpoint.files) == set(resources):
            writers: dict[str, RecordWriter] = {}
            try:
                for resource in resources:
                    writers[resource] = self.output.open(
                        resource, scope_uuid=self.project.uuid, resume=checkpoint.files[resource]
                    )
            except ResumeImpossible as exc:
                for writer in writers.values():
                    writer.discard()
                log.warning(
                    "checkpoint unusable, project starts over job=%s project=%s reason=%s",
                    self.unit_run.job_id,
                    self.project.uuid,
                    exc,
                )
            else:
                log.info(
                    "project resumed job=%s project=%s page=%d issues=%d",
                    self.unit_run.job_id,
                    self.project.uuid,
                    checkpoint.next_page,
                    checkpoint.issues_seen,
                )
                self.output.sweep_partials()
                return writers, checkpoint
        self.output.sweep_partials()
        fresh = {r: self.output.open(r, scope_uuid=self.project.uuid) for r in resources}
        return fresh, IssueCheckpoint()

    def _issues_and_comments(self, resources: list[str]) -> None:
        writers, position = self._open(resources)
        comments = writers.get("comments")
        with contextlib.ExitStack() as stack:
            for writer in writers.values():
                stack.enter_context(writer)
            pool = (
                stack.enter_context(
                    ThreadPoolExecutor(self.comment_concurrency, thread_name_prefix="comments")
                )
                if comments is not None
                else None
            )
            pending: deque[_Pending] = deque()
            self.watermark = position.watermark
            try:
                for page in self.client.iter_issue_pages(
                    self.project.uuid,
                    synchronized=self.since,
                    first_page=position.next_page,
                ):
                    self.unit_run.check()
                    if page.number == 0:
                        self.watermark = page.synchronized
                        if page.count is not None:
                            self.unit_run.write([Write.unit("issues_total", page.count)])
                    for index, issue in enumerate(page.items):
                        future = pool.submit(self._comments_of, issue) if pool else None
                        last = index == len(page.items) - 1
                        pending.append(_Pending(issue, future, page if last else None))
                        while len(pending) > self.comment_concurrency * LOOKAHEAD_PER_THREAD:
                            self._write(pending.popleft(), writers, position)
                while pending:
                    self._write(pending.popleft(), writers, position)
            except BaseException:
                for entry in pending:
                    if entry.comments is not None:
                        entry.comments.cancel()
                raise
            self.output.commit(
                [(r, writers[r], None) for r in resources],
                extra=[
                    Write.unit("checkpoint", None),
                    Write.unit("watermark", self.watermark),
                    Write.unit("issues_seen", position.issues_seen),
                ],
            )

    def _write(
        self, entry: _Pending, writers: dict[str, RecordWriter], position: IssueCheckpoint
    ) -> None:
        issues = writers.get("issues")
        comments = writers.get("comments")
        if issues is not None:
            issues.write(entry.issue)
        if entry.comments is not None and comments is not None:
            for record in entry.comments.result():
                comments.write(record)
        position.issues_seen += 1
        self.unit_run.check()
        if entry.ends_page is not None:
            self._checkpoint(entry.ends_page, writers, position)

    def _checkpoint(
        self, page: Page, writers: dict[str, RecordWriter], position: IssueCheckpoint
    ) -> None:
        """Everything up to the end of `page` is written: record where to resume."""
        position.next_page = page.number + 1
        position.watermark = self.watermark
        position.files = {r: w.checkpoint() for r, w in writers.items()}
        writes = [
            Write.unit("checkpoint", position.to_text()),
            Write.unit("issues_seen", position.issues_seen),
        ]
        for resource, writer in writers.items():
            writes.append(Write.records(self.unit_run.unit, resource, writer.records))
        self.unit_run.write(writes)

    def _comments_of(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        # Revizto's comment does not say which issue it belongs to; the export does.
        link = {"id": issue.get("id"), "uuid": issue.get("uuid")}
        options = {"since": comments_since(self.since)} if self.since else {}
        seen: set[str] = set()
        records = []
        for comment in self.client.iter_comments(str(issue["uuid"]), self.project.id, **options):
            key = str(comment.get("uuid") or comment.get("id") or json.dumps(comment))
            if key not in seen:  # a comment added while paging must not appear twice
                seen.add(key)
                records.append({"issue": link, "comment": comment})
        return records


def comments_since(watermark: str) -> str:
    """The `date` for Revizto's comments-by-date endpoint in an incremental export.

    The endpoint takes a day, not a moment, and Revizto's clock is not ours: asking from
    the day before the watermark's day (COMMENT_OVERLAP) never misses a comment made just
    before the watermark was taken, at the price of repeating up to two days of comments,
    which consumers de-duplicate by the comment's uuid.
    """
    day = datetime.strptime(watermark[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    return (day - COMMENT_OVERLAP).date().isoformat()
