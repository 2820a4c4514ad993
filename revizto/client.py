"""The data endpoints an exporter needs, over one Transport and one TokenProvider.

Every call goes through `_get`: transient failures (of Revizto, or of the token provider)
are retried by the transport's RetryPolicy; a rejected token is refreshed through the
provider (naming the generation that failed) and the request is retried exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from revizto.errors import InvalidResponse, TokenRejected
from revizto.pagination import Page, iter_entity_pages, iter_paged, parse_entities
from revizto.retry import RetryPolicy
from revizto.tokens import TokenProvider
from revizto.transport import RequestGate, RequestObserver, Timeouts, Transport

log = logging.getLogger(__name__)

DEFAULT_ISSUE_PAGE_SIZE = 100  # what most public clients use; Revizto's maximum is unknown
DEFAULT_PROJECT_PAGE_SIZE = 24  # the limit Revizto echoed in a captured project list
# Issue lists leave out an issue's level, zone, room, area and grid unless asked for them
# (`clashAndLocationFields`, docs/revizto-api.md §4.6); reported by one client, so the
# names can be changed, or the request turned off with an empty tuple.
ISSUE_ADDITIONAL_FIELDS_PARAM = "additionalFields[]"
DEFAULT_ISSUE_ADDITIONAL_FIELDS: tuple[str, ...] = ("appendClashAndLocationFields",)
STAMP_PAGE_SIZE = 200  # issue-preset/list pages are fixed at 200 (docs/revizto-api.md §4.8)
# Comments "added on or after date"; an early date asks for the whole history.
ALL_COMMENTS_SINCE = "2000-01-01"


def format_watermark(moment: datetime) -> str:
    """Revizto's `synchronized` format: naive `YYYY-MM-DD HH:MM:SS` (taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat, not strftime: %Y does not pad years before 1000 on every platform.
    return moment.replace(microsecond=0).isoformat(sep=" ")


def decode_stamp_fields(stamp: Mapping[str, Any]) -> dict[str, Any]:
    """A stamp template's `fields`, which Revizto sends as a JSON-encoded string."""
    raw = stamp.get("fields")
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        raise InvalidResponse("stamp template `fields` is not valid JSON") from exc
    return decoded if isinstance(decoded, dict) else {}


class ReviztoClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        observer: RequestObserver | None = None,
        gate: RequestGate | None = None,
        transport: Transport | None = None,
        issue_additional_fields: Sequence[str] = DEFAULT_ISSUE_ADDITIONAL_FIELDS,
    ) -> None:
        self.transport = transport or Transport(
            base_url, timeouts=timeouts, retry_policy=retry_policy, observer=observer, gate=gate
        )
        self.tokens = tokens
        self.issue_additional_fields = tuple(issue_additional_fields)

    # -- plumbing -------------------------------------------------------------------------

    def _get(self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        for attempt in self.transport.retry_policy.retrying(endpoint):
            with attempt:
                return self._get_once(path, endpoint=endpoint, params=params)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _get_once(
        self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        token = self.tokens.current_token()
        try:
            return self.transport.get_once(
                path, endpoint=endpoint, bearer=token.access_token, params=params
            )
        except TokenRejected:
            log.info(
                "access token rejected endpoint=%s generation=%d; refreshing",
                endpoint,
                token.generation,
            )
            token = self.tokens.refresh_after_rejection(token.generation)
            # Exactly one retry: a second rejection means refreshing does not help.
            return self.transport.get_once(
                path, endpoint=endpoint, bearer=token.access_token, params=params
            )

    def _entities(
        self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None
    ) -> Page:
        return parse_entities(self._get(path, endpoint=endpoint, params=params), endpoint)

    # -- account --------------------------------------------------------------------------

    def current_user(self) -> dict[str, Any]:
        data = self._get("v5/user", endpoint="user")
        if not isinstance(data, dict):
            raise InvalidResponse("user reply is not an object", endpoint="user")
        return data

    def licenses(self) -> list[dict[str, Any]]:
        return self._entities("v5/user/licenses", endpoint="licenses").items

    def license_team(
        self, license_uuid: str, *, with_deactivated: bool = True
    ) -> list[dict[str, Any]]:
        params = {"withDeactivated": "true"} if with_deactivated else None
        return self._entities(
            f"v5/license/{license_uuid}/team", endpoint="license_team", params=params
        ).items

    def license_projects(self, license_uuid: str) -> list[dict[str, Any]]:
        """Every project of a licence in one reply (the unpaged list)."""
        return self._entities(
            f"v5/license/{license_uuid}/projects", endpoint="license_projects"
        ).items

    def iter_license_projects_paged(
        self, license_uuid: str, *, limit: int = DEFAULT_PROJECT_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """The same projects through the paged list."""

        def fetch(page: int) -> Any:
            return self._get(
                f"v5/project/list/{license_uuid}/paged",
                endpoint="projects_paged",
                params={"page": page, "limit": limit},
            )

        for page in iter_paged(fetch, endpoint="projects_paged", page_size=limit):
            yield from page.items

    # -- project --------------------------------------------------------------------------

    def project_team(self, project_uuid: str) -> list[dict[str, Any]]:
        return self._entities(f"v5/project/{project_uuid}/team", endpoint="project_team").items

    def issue_workflow_settings(self, project_uuid: str) -> dict[str, Any]:
        data = self._get(
            f"v5/project/{project_uuid}/issue-workflow/settings", endpoint="workflow_settings"
        )
        if not isinstance(data, dict):
            raise InvalidResponse(
                "workflow settings are not an object", endpoint="workflow_settings"
            )
        return data

    def iter_stamps(self, project_uuid: str) -> Iterator[dict[str, Any]]:
        """Stamp templates and their categories; `fields` stays a JSON string (see
        decode_stamp_fields)."""

        def fetch(page: int) -> Any:
            return self._get(
                f"v5/project/{project_uuid}/issue-preset/list",
                endpoint="stamps",
                params={"page": page},
            )

        for page in iter_entity_pages(fetch, page_size=STAMP_PAGE_SIZE, endpoint="stamps"):
            yield from page.items

    def sheets(self, project_uuid: str) -> list[dict[str, Any]]:
        return self._entities(f"v5/project/{project_uuid}/sheet/list", endpoint="sheets").items

    # -- issues and comments --------------------------------------------------------------

    def iter_issue_pages(
        self,
        project_uuid: str,
        *,
        limit: int = DEFAULT_ISSUE_PAGE_SIZE,
        synchronized: str | None = None,
        deleted: bool = False,
        first_page: int = 0,
    ) -> Iterator[Page]:
        """Pages of full issues; `synchronized` (a watermark) limits them to changed issues.

        Each page carries Revizto's next watermark in `Page.synchronized`; `first_page`
        resumes an interrupted walk. Issues come with the client's additional fields.
        """
        endpoint = "deleted_issues" if deleted else "issues"
        suffix = "filter_deleted" if deleted else "filter"
        params: dict[str, Any] = {"limit": limit, "sendFullIssueData": "true"}
        if self.issue_additional_fields:
            # A list: requests repeats the key, PHP's `name[]=a&name[]=b` (§3b).
            params[ISSUE_ADDITIONAL_FIELDS_PARAM] = list(self.issue_additional_fields)
        if synchronized is not None:
            params["synchronized"] = synchronized

        def fetch(page: int) -> Any:
            return self._get(
                f"v5/project/{project_uuid}/issue-filter/{suffix}",
                endpoint=endpoint,
                params={**params, "page": page},
            )

        return iter_paged(fetch, endpoint=endpoint, first_page=first_page, page_size=limit)

    def iter_issues(self, project_uuid: str, **options: Any) -> Iterator[dict[str, Any]]:
        for page in self.iter_issue_pages(project_uuid, **options):
            yield from page.items

    def iter_comment_pages(
        self,
        issue_uuid: str,
        project_id: int,
        *,
        since: str = ALL_COMMENTS_SINCE,
    ) -> Iterator[Page]:
        """An issue's comments and history (`diff` comments), oldest first.

        Revizto wants the project's numeric `id` here, not its uuid: passing the uuid
        silently finds nothing, so it is refused before any request is made. Revizto
        picks the page size; no public client sends a `limit` (docs/revizto-api.md §4.7).
        """
        if isinstance(project_id, bool) or not isinstance(project_id, int):
            raise TypeError(
                f"comments need the numeric project id, got {type(project_id).__name__}"
            )

        def fetch(page: int) -> Any:
            return self._get(
                f"v5/issue/{issue_uuid}/comments/date",
                endpoint="comments",
                params={"projectId": project_id, "date": since, "page": page},
            )

        return iter_paged(fetch, endpoint="comments")

    def iter_comments(
        self, issue_uuid: str, project_id: int, **options: Any
    ) -> Iterator[dict[str, Any]]:
        for page in self.iter_comment_pages(issue_uuid, project_id, **options):
            yield from page.items
