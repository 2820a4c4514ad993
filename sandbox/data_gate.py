"""What every data request passes before its handler: latency, faults, rate limit, the token."""

from __future__ import annotations

import time

from flask import Blueprint, Response, request

from sandbox.envelope import (
    GENERIC_FAILURE,
    TOKEN_INVALID,
    TOO_MANY_REQUESTS,
    failure,
    retry_after_header,
)
from sandbox.fault_replies import hang, injected_failure
from sandbox.identifiers import uuid_key
from sandbox.state import SandboxState, current_state

# The view args that name the project a `/v5/project/<...>/...` route reads; licence-level
# routes (`/project/list/<licence_uuid>/paged`) use `licence_uuid` and so never match.
PROJECT_VIEW_ARGS = ("project_uuid", "project_ref")


def install_data_gate(blueprint: Blueprint) -> None:
    """Run the gate before, and the in-flight bookkeeping after, every route of `blueprint`."""
    blueprint.before_request(_gate)
    blueprint.teardown_request(_finished)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _gate() -> Response | None:
    state = current_state()
    state.stats.data_started()
    settings = state.faults.settings
    # Sleeping in the handler thread: concurrent requests each wait in their own thread.
    if settings.data_latency_ms:
        time.sleep(settings.data_latency_ms / 1000)
    # Before every one-shot fault, so a failing project spends no fail_next, hang, rate-limit
    # slot or error-rate roll that a test meant for another request.
    if settings.fail_projects and _project_key(state) in settings.fail_projects:
        return failure(GENERIC_FAILURE, "Injected failure: project unavailable", status=500)
    if state.faults.take_hang("data"):
        return hang(request.environ)
    fault = state.faults.take_fail_next("data")
    if fault is not None:
        return injected_failure(fault, settings)
    if not state.faults.admit():
        retry_after = retry_after_header(settings.retry_after_s)
        return failure(TOO_MANY_REQUESTS, status=429, headers={"Retry-After": retry_after})
    if state.faults.roll_error():
        return failure(GENERIC_FAILURE, "Service temporarily unavailable", status=503)
    token = bearer_token()
    if token is None or not state.auth.access_token_valid(token):
        return failure(TOKEN_INVALID, status=settings.expired_token_status)
    return None


def _project_key(state: SandboxState) -> str | None:
    """The uuid_key() of the project this request reads, or None for user/licence routes."""
    view_args = request.view_args or {}
    reference = next((view_args[name] for name in PROJECT_VIEW_ARGS if name in view_args), None)
    if reference is not None:
        # Issue lists accept the numeric id too; an unknown reference is still compared as a
        # uuid, so a made-up project uuid a test lists fails all the same.
        project = state.dataset.project(str(reference), allow_numeric=True)
        return uuid_key(project.uuid if project is not None else str(reference))
    if "issue_uuid" in view_args:
        # Comments name their project only by the numeric `projectId` query parameter
        # (docs/revizto-api.md §4.7).
        raw_project_id = request.args.get("projectId", "")
        if raw_project_id.isdigit():
            project = state.dataset.project_by_id(int(raw_project_id))
            if project is not None:
                return uuid_key(project.uuid)
    return None


def _finished(_error: BaseException | None) -> None:
    current_state().stats.data_finished()
