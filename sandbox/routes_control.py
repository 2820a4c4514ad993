"""`/_sandbox/*`: control routes for tests, benchmarks and the demo (no auth, never in Revizto)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.dataset import catalog_json
from sandbox.faults import FaultError
from sandbox.issue_collection import IssueCollection, UnknownIssues
from sandbox.permissions import LicenceRole, PermissionUpdateError, parse_update
from sandbox.state import current_state
from sandbox.timestamps import format_timestamp, now_epoch

log = logging.getLogger(__name__)

control = Blueprint("control", __name__, url_prefix="/_sandbox")


@control.post("/access-codes")
def mint_access_code() -> Response:
    return jsonify({"code": current_state().auth.mint_access_code()})


@control.get("/stats")
def stats() -> Response:
    return jsonify(current_state().stats.snapshot())


@control.post("/reset-stats")
def reset_stats() -> Response:
    state = current_state()
    state.stats.reset()
    return jsonify(state.stats.snapshot())


@control.get("/faults")
def faults() -> Response:
    return jsonify(current_state().faults.settings.as_json())


@control.post("/faults")
def update_faults() -> Response:
    state = current_state()
    patch = request.get_json(silent=True)
    if not isinstance(patch, dict):
        return _bad_request("body", "expected a JSON object of fault settings")
    try:
        settings, revoke = state.faults.update(patch)
    except FaultError as exc:
        return _bad_request(exc.field, str(exc))
    if revoke:
        revoked = state.auth.revoke_refresh_tokens()
        log.info("refresh tokens revoked count=%d", revoked)
    if patch:
        log.info("faults updated keys=%s", ",".join(sorted(patch)))
    return jsonify(settings.as_json())


@control.get("/issued-secrets")
def issued_secrets() -> Response:
    """Every token and code issued: tests scan logs, metrics and error bodies for them."""
    return jsonify(current_state().auth.issued_secrets())


@control.get("/catalog")
def catalog() -> Response:
    return jsonify(catalog_json(current_state().dataset))


@control.get("/permissions")
def permissions() -> Response:
    return jsonify(current_state().permissions.as_json())


@control.post("/permissions")
def update_permissions() -> Response:
    """Lower (or restore) the caller's role on a licence, or its access to a project, so a
    test can prove an export skips what a service account may not read."""
    state = current_state()
    try:
        update = parse_update(request.get_json(silent=True))
    except PermissionUpdateError as exc:
        return _bad_request(exc.field, str(exc))
    if isinstance(update, LicenceRole):
        licence = state.dataset.licence(update.license_uuid)
        if licence is None:
            return _bad_request("license_uuid", "no such licence", status=404)
        state.permissions.set_role(licence.uuid, update.role)
        log.info("licence role set licence=%s role=%d", licence.uuid, update.role)
    else:
        project = state.dataset.project(update.project_uuid)
        if project is None:
            return _bad_request("project_uuid", "no such project", status=404)
        state.permissions.set_access(project.uuid, update.access)
        log.info("project access set project=%s access=%s", project.uuid, update.access)
    return jsonify(state.permissions.as_json())


@control.post("/reset-permissions")
def reset_permissions() -> Response:
    """Every licence back to administrator, every project readable."""
    state = current_state()
    state.permissions.reset()
    return jsonify(state.permissions.as_json())


# What an issue edit route does to the issues it names, at the moment it was asked.
IssueEdit = Callable[[IssueCollection, list[int], int], None]


@control.post("/touch-issues")
def touch_issues() -> Response:
    """Make issues look edited now, so a test can prove an incremental (`synchronized`) export."""
    return _edit_issues(IssueCollection.touch, answer="updated")


@control.post("/delete-issues")
def delete_issues() -> Response:
    """Delete live issues now, so a test can prove an export picks up `filter_deleted`."""
    return _edit_issues(IssueCollection.delete, answer="deleted_at")


@control.post("/add-comments")
def add_comments() -> Response:
    """Add one comment now to each issue, so a test can prove comments are exported again."""
    return _edit_issues(IssueCollection.add_comments, answer="created")


def _edit_issues(edit: IssueEdit, *, answer: str) -> Response:
    """Apply `edit` to the issues a `{"project_uuid", "ids"}` body names; `{answer: now}`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad_request("body", 'expected {"project_uuid": ..., "ids": [...]}')
    reference = body.get("project_uuid")
    ids = body.get("ids")
    if not isinstance(reference, str | int) or isinstance(reference, bool):
        return _bad_request("project_uuid", "must be a project uuid or numeric id")
    if not isinstance(ids, list) or not all(_is_id(value) for value in ids):
        return _bad_request("ids", "must be a list of issue ids")
    project = current_state().dataset.project(str(reference), allow_numeric=True)
    if project is None:
        return _bad_request("project_uuid", "no such project", status=404)
    now = now_epoch()
    try:
        edit(project.issues, ids, now)
    except UnknownIssues as exc:
        return _bad_request("ids", f"unknown or deleted issue ids: {exc.ids[:20]}")
    return jsonify({answer: format_timestamp(now)})


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad_request(field: str, message: str, *, status: int = 400) -> Response:
    reply = jsonify({"error": message, "field": field})
    reply.status_code = status
    return reply
