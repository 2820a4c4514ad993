"""The Revizto v5 data endpoints an exporter reads (docs/revizto-api.md §4.1-§4.9); all need
a bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request

from sandbox.data_gate import install_data_gate
from sandbox.dataset import Licence, Project
from sandbox.envelope import ACCESS_DENIED, ENTITY_MISSING, NO_API_ACCESS, entities, ok
from sandbox.locations import asks_for_locations, with_locations, without_locations
from sandbox.paging import PageRequest, ParameterError, page_request, paged
from sandbox.people import user_json
from sandbox.project_shapes import licence_json, licence_team_json, project_json, project_team_json
from sandbox.state import current_state
from sandbox.timestamps import format_timestamp, now_epoch, parse_timestamp

# Observed or documented page sizes (docs/revizto-api.md §4.4, §4.6-§4.8); larger limits
# are clamped.
PROJECT_PAGE_DEFAULT = 24
ISSUE_PAGE_DEFAULT = 100
# Revizto picks the comment page size: no public client sends `limit`, so it is ignored.
# The size itself is a guess [I] (docs/revizto-api.md §4.7).
COMMENT_PAGE_SIZE = 100
MAX_PAGE_LIMIT = 1000
PRESET_PAGE_SIZE = 200

data = Blueprint("data", __name__, url_prefix="/v5")
install_data_gate(data)


class ApiError(Exception):
    """A handled Revizto error: HTTP 200 with a negative `result` (docs/revizto-api.md §3a)."""

    def __init__(self, result: int) -> None:
        super().__init__(result)
        self.result = result


@data.get("/user")
def current_user() -> Response:
    return ok(user_json(current_state().dataset.user))


@data.get("/user/licenses")
def user_licences() -> Response:
    state = current_state()
    user, permissions = state.dataset.user, state.permissions
    return entities(
        [
            licence_json(licence, user, role=permissions.role(licence.uuid))
            for licence in state.dataset.licences
        ]
    )


@data.get("/license/<licence_uuid>/team")
def licence_team(licence_uuid: str) -> Response:
    with_deactivated = request.args.get("withDeactivated", "").lower() in ("1", "true")
    return entities(licence_team_json(_licence(licence_uuid), with_deactivated=with_deactivated))


@data.get("/license/<licence_uuid>/projects")
def licence_projects(licence_uuid: str) -> Response:
    user = current_state().dataset.user
    return entities([project_json(project, user) for project in _licence(licence_uuid).projects])


@data.get("/project/list/<licence_uuid>/paged")
def licence_projects_paged(licence_uuid: str) -> Response:
    projects = _licence(licence_uuid).projects
    wanted = page_request(
        request.args, default_limit=PROJECT_PAGE_DEFAULT, max_limit=MAX_PAGE_LIMIT
    )
    user = current_state().dataset.user
    chosen = projects[wanted.page * wanted.limit : (wanted.page + 1) * wanted.limit]
    items = [project_json(project, user) for project in chosen]
    return ok(_paged(items, count=len(projects), request=wanted, synchronized=_now()))


@data.get("/project/<project_uuid>/team")
def project_team(project_uuid: str) -> Response:
    return entities(project_team_json(_project(project_uuid)))


@data.get("/project/<project_uuid>/issue-workflow/settings")
def workflow_settings(project_uuid: str) -> Response:
    return ok(_project(project_uuid).workflow.settings_json())


@data.get("/project/<project_uuid>/issue-preset/list")
def stamp_presets(project_uuid: str) -> Response:
    presets = _project(project_uuid).stamps.entities_json()
    page = page_request(
        request.args, default_limit=PRESET_PAGE_SIZE, max_limit=PRESET_PAGE_SIZE
    ).page
    chosen = presets[page * PRESET_PAGE_SIZE : (page + 1) * PRESET_PAGE_SIZE]
    return ok({"entities": chosen, "count": len(presets)})


@data.get("/project/<project_uuid>/sheet/list")
def sheets(project_uuid: str) -> Response:
    return entities([sheet.entity_json() for sheet in _project(project_uuid).sheets])


@data.route("/project/<project_ref>/issue-filter/filter", methods=["GET", "POST"])
def issues(project_ref: str) -> Response:
    return _issue_page(project_ref, deleted=False)


@data.route("/project/<project_ref>/issue-filter/filter_deleted", methods=["GET", "POST"])
def deleted_issues(project_ref: str) -> Response:
    return _issue_page(project_ref, deleted=True)


@data.get("/issue/<issue_uuid>/comments/date")
def issue_comments(issue_uuid: str) -> Response:
    # Revizto wants the numeric project id here; a uuid finds nothing (docs/revizto-api.md §4.7).
    raw_project_id = request.args.get("projectId", "")
    dataset = current_state().dataset
    project = dataset.project_by_id(int(raw_project_id)) if raw_project_id.isdigit() else None
    if project is None:
        raise ApiError(ENTITY_MISSING)
    _require_api_access(project)
    issue_id = project.issues.issue_id_for(issue_uuid)
    if issue_id is None:
        raise ApiError(ENTITY_MISSING)
    since = _timestamp_param(request.args, "date")
    # Only `page` is read: a client's `limit` neither changes the page nor fails it.
    only_page = {"page": request.args.get("page")}
    wanted = page_request(only_page, default_limit=COMMENT_PAGE_SIZE, max_limit=COMMENT_PAGE_SIZE)
    comments = project.issues.comments(issue_id)
    if since is not None:
        floor = format_timestamp(since)
        comments = [comment for comment in comments if comment["created"] >= floor]
    chosen = comments[wanted.page * wanted.limit : (wanted.page + 1) * wanted.limit]
    return ok(_paged(chosen, count=len(comments), request=wanted, synchronized=_now()))


def _issue_page(project_ref: str, *, deleted: bool) -> Response:
    params = _issue_params()
    project = _project(project_ref, allow_numeric=True)
    wanted = page_request(params, default_limit=ISSUE_PAGE_DEFAULT, max_limit=MAX_PAGE_LIMIT)
    since = _timestamp_param(params, "synchronized")
    # Taken before reading, so an edit made during the read is caught by the next sync.
    synchronized = _now()
    collection = project.issues
    reader = collection.deleted_page if deleted else collection.page
    items, count = reader(since, wanted.page, wanted.limit)
    # Level, zone, room...: only when asked for (docs/revizto-api.md §4.6).
    if asks_for_locations(params, request.args.to_dict(flat=False)):
        items = [with_locations(issue, collection.locations(issue)) for issue in items]
    else:
        items = [without_locations(issue) for issue in items]
    return ok(_paged(items, count=count, request=wanted, synchronized=synchronized))


def _paged(
    items: list[Any], *, count: int, request: PageRequest, synchronized: str
) -> dict[str, Any]:
    """The paged payload, without `pages` while the `omit_pages` fault is on (§3b)."""
    with_pages = not current_state().faults.settings.omit_pages
    return paged(
        items, count=count, request=request, synchronized=synchronized, with_pages=with_pages
    )


def _issue_params() -> Mapping[str, Any]:
    """Query parameters, or a JSON body for the POST form some clients use
    (docs/revizto-api.md §4.6)."""
    params: dict[str, Any] = dict(request.args)
    if request.method == "POST":
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    return params


def _timestamp_param(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(str(raw))
    except ValueError:
        raise ParameterError(name) from None


def _licence(reference: str) -> Licence:
    """A licence for its licence-level routes, which Revizto keeps for licence admins
    (docs/revizto-api.md §5a: -20 below role 4)."""
    state = current_state()
    licence = state.dataset.licence(reference)
    if licence is None:
        raise ApiError(ENTITY_MISSING)
    if not state.permissions.administers(licence.uuid):
        raise ApiError(ACCESS_DENIED)
    return licence


def _project(reference: str, *, allow_numeric: bool = False) -> Project:
    project = current_state().dataset.project(reference, allow_numeric=allow_numeric)
    if project is None:
        raise ApiError(ENTITY_MISSING)
    _require_api_access(project)
    return project


def _require_api_access(project: Project) -> None:
    if not project.readable:
        raise ApiError(NO_API_ACCESS)
    # A project the caller was not given (POST /_sandbox/permissions) refuses with -20.
    if not current_state().permissions.may_read(project.uuid):
        raise ApiError(ACCESS_DENIED)


def _now() -> str:
    return format_timestamp(now_epoch())
