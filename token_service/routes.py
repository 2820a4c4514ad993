"""The internal token API: /v1/token, /v1/token/refresh, /v1/credentials (shared secret)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from service_common.auth import bearer_token, matches_any
from service_common.problems import problem
from service_common.validation import parse_body
from token_service.credential_age import credential_age
from token_service.manager import TokenManager
from token_service.runtime import Runtime
from token_service.schemas import CredentialsRequest, RefreshRequest
from token_service.state import TokenState

bp = Blueprint("tokens", __name__, url_prefix="/v1")

TOKEN_PATH = "/v1/token"  # noqa: S105 (a route, not a secret)
# The ASGI scope key under which the front (token_service/front.py) hands over the
# exception of a token read it already made, to be rendered here like any other.
FAILED_READ = "token_service.failed_read"


def _manager() -> TokenManager:
    manager: TokenManager = current_app.extensions["token_manager"]
    return manager


@bp.before_request
def require_shared_secret() -> Response | None:
    secret: str = current_app.config["TOKEN_SERVICE_SECRET"]
    if matches_any(bearer_token(request.headers.get("Authorization")), [secret]):
        return None
    return problem(
        401,
        "Unauthorized",
        problem_type="unauthorized",
        detail="send Authorization: Bearer <TOKEN_SERVICE_SECRET>",
        headers={"WWW-Authenticate": 'Bearer realm="token-service"'},
    )


def token_body(state: TokenState, manager: TokenManager, base_url: str) -> dict[str, Any]:
    # `refresh_at` (beyond the contract's three fields) lets callers cache the token until
    # the service would refresh it anyway.
    return {
        "access_token": state.access_token,
        "expires_at": state.expires_at,
        "generation": state.generation,
        "refresh_at": manager.refresh_due_at(state),
        # The region the token belongs to, so workers need no Revizto URL of their own.
        "base_url": base_url,
    }


def _reply(state: TokenState, manager: TokenManager) -> Response:
    return jsonify(token_body(state, manager, current_app.config["REVIZTO_BASE_URL"]))


@bp.get("/token")
def get_token() -> Response:
    failed: Exception | None = request.environ.get("asgi.scope", {}).get(FAILED_READ)
    if failed is not None:
        raise failed
    manager = _manager()
    return _reply(manager.get_token(), manager)


@bp.post("/token/refresh")
def refresh_token() -> Response:
    body = parse_body(request, RefreshRequest)
    manager = _manager()
    return _reply(manager.refresh_after_rejection(body.generation), manager)


@bp.put("/credentials")
def put_credentials() -> Response:
    body = parse_body(request, CredentialsRequest)
    manager = _manager()
    if body.access_code is not None:
        state = manager.install_access_code(body.access_code)
    elif body.refresh_token is not None:
        state = manager.install_refresh_token(body.refresh_token)
    else:  # the schema requires one of the two; kept for type narrowing
        return problem(422, "No credential", problem_type="invalid-request")
    return jsonify(
        {"generation": state.generation, "expires_at": state.expires_at, "reauth_required": False}
    )


@bp.get("/credential")
def credential() -> Response:
    """The credential's state for operators and the job API's `GET /v1/credential`: never a
    token, only when it expires, how old the refresh token is, and whether a human must
    re-authenticate. Read from Redis; it calls no one."""
    runtime: Runtime = current_app.extensions["token_runtime"]
    snapshot = runtime.store.snapshot()
    state, reauth = snapshot.state, snapshot.reauth
    now = time.time()
    return jsonify(
        {
            **credential_age(state, runtime.settings.credential_max_age_days, now),
            "installed": state is not None,
            "generation": state.generation if state else None,
            "access_token_expires_at": state.expires_at if state else None,
            "access_token_expires_in_seconds": round(state.seconds_left(now), 1) if state else None,
            "refresh_token_age_seconds": round(now - state.refresh_token_issued_at, 1)
            if state and state.refresh_token
            else None,
            "reauth_required": reauth is not None,
            "reauth_reason": reauth.reason if reauth else None,
            "reauth_since": reauth.since if reauth else None,
            "base_url": runtime.base_url,
        }
    )
