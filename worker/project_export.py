"""ProjectExporter: one project's resources, streamed page by page into its files.

Issues are read page by page and written as they arrive; comments are fetched for a few
issues at a time in parallel (Revizto has one comments call per issue, so a project of
10,000 issues is 10,000 calls: latency, not bandwidth, is what limits an export) and
written in issue order. Between pages the JobGuard checks for a cancelled or failed job.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from revizto.client import ReviztoClient
from worker.guard import JobGuard
from worker.plan import ProjectRef
from worker.request import ExportRequest
from worker.unit_output import UnitOutput
from worker.writers import RecordWriter

log = logging.getLogger(__name__)

# How many issues' comments may be fetched ahead of the writer, per worker thread.
LOOKAHEAD_PER_THREAD = 4


class ProjectExporter:
    def __init__(
        self,
        client: ReviztoClient,
        request: ExportRequest,
        project: ProjectRef,
        output: UnitOutput,
        guard: JobGuard,
        *,
        comment_concurrency: int,
    ) -> None:
        self.client = client
        self.request = request
        self.project = project
        self.output = output
        self.guard = guard
        self.comment_concurrency = comment_concurrency
        self.watermark: str | None = None

    def run(self) -> None:
        project_uuid = self.project.uuid
        if self.request.wants("members"):
            self.output.write_all(
                "members", self.client.project_team(project_uuid), scope_uuid=project_uuid
            )
        self.guard.check()
        if self.request.wants("workflows"):
            settings = self.client.issue_workflow_settings(project_uuid)
            self.output.write_all("workflows", [settings], scope_uuid=project_uuid)
        self.guard.check()
        if self.request.wants("stamps"):
            self.output.write_all(
                "stamps", self.client.iter_stamps(project_uuid), scope_uuid=project_uuid
            )
        self.guard.check()
        if self.request.wants("sheets"):
            self.output.write_all(
                "sheets", self.client.sheets(project_uuid), scope_uuid=project_uuid
            )
        if self.request.wants("issues") or self.request.wants("comments"):
            self._issues_and_comments()

    def _issues_and_comments(self) -> None:
        project_uuid = self.project.uuid
        with contextlib.ExitStack() as stack:
            issues = (
                stack.enter_context(self.output.open("issues", scope_uuid=project_uuid))
                if self.request.wants("issues")
                else None
            )
            comments = (
                stack.enter_context(self.output.open("comments", scope_uuid=project_uuid))
                if self.request.wants("comments")
                else None
            )
            pool = (
                stack.enter_context(
                    ThreadPoolExecutor(self.comment_concurrency, thread_name_prefix="comments")
                )
                if comments is not None
                else None
            )
            pending: deque[tuple[dict[str, Any], Future[list[dict[str, Any]]]]] = deque()
            try:
                for page in self.client.iter_issue_pages(
                    project_uuid, synchronized=self.request.watermark()
                ):
                    self.guard.check()
                    if self.watermark is None:
                        self.watermark = page.synchronized
                    for issue in page.items:
                        if issues is not None:
                            issues.write(issue)
                        if pool is not None and comments is not None:
                            pending.append((issue, pool.submit(self._comments_of, issue)))
                            while len(pending) > self.comment_concurrency * LOOKAHEAD_PER_THREAD:
                                self._write_comments(comments, pending.popleft()[1])
                    self._report_progress(issues, comments)
                while pending and comments is not None:
                    self._write_comments(comments, pending.popleft()[1])
            except BaseException:
                for _, future in pending:
                    future.cancel()
                raise
            if issues is not None:
                self.output.commit("issues", issues)
            if comments is not None:
                self.output.commit("comments", comments)

    def _comments_of(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        # Revizto's comment does not say which issue it belongs to; the export does.
        link = {"id": issue.get("id"), "uuid": issue.get("uuid")}
        since = (
            self.request.updated_since.strftime("%Y-%m-%d") if self.request.updated_since else None
        )
        options = {"since": since} if since else {}
        return [
            {"issue": link, "comment": comment}
            for comment in self.client.iter_comments(str(issue["uuid"]), self.project.id, **options)
        ]

    def _write_comments(self, writer: RecordWriter, future: Future[list[dict[str, Any]]]) -> None:
        for record in future.result():
            writer.write(record)
        self.guard.check()

    def _report_progress(self, issues: RecordWriter | None, comments: RecordWriter | None) -> None:
        for resource, writer in (("issues", issues), ("comments", comments)):
            if writer is not None:
                self.output.progress(resource, writer.records)
