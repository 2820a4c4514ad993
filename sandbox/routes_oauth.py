"""`/v5/oauth2`: Revizto's legacy token endpoint, with its rotation and its failure modes
(docs/revizto-api.md §2).

The order matters and mirrors what a client can observe: injected hangs, failures and
malformed replies never spend a code or refresh token; in the "before" latency phase a
caller that hangs up before the sleep ends leaves its refresh token untouched (the request
"never reached Revizto"); in the "after" phase the token is rotated first, so a caller
that gives up has lost it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.auth import Rejection, TokenPair, opaque_secret
from sandbox.fault_replies import CLIENT_GONE_STATUS, hang, injected_failure, pause
from sandbox.faults import PHASE_BEFORE
from sandbox.state import SandboxState, current_state

GRANT_CODE = "authorization_code"
GRANT_REFRESH = "refresh_token"
REJECTION_MESSAGES = {
    GRANT_CODE: "Access code is invalid, expired or already used",
    GRANT_REFRESH: "Refresh token is invalid or already used",
}
NOT_JSON_BODY = "<html><head><title>502 Bad Gateway</title></head><body>Bad gateway</body></html>"

log = logging.getLogger(__name__)

oauth = Blueprint("oauth", __name__)


@oauth.route("/v5/oauth2", methods=["POST", "GET"])
def token() -> Response:
    state = current_state()
    state.stats.token_request()
    grant_type, secret = _grant()
    if state.faults.take_hang("token"):
        return hang(request.environ)
    settings = state.faults.settings
    fault = state.faults.take_fail_next("token")
    if fault is not None:
        return injected_failure(fault, settings)
    malformed = state.faults.take_malformed()
    if malformed is not None:
        state.stats.malformed()
        return _malformed_reply(state, malformed)
    if grant_type not in REJECTION_MESSAGES:
        reply = jsonify(
            {
                "error": "unsupported_grant_type",
                "error_description": "Use authorization_code or refresh_token",
            }
        )
        reply.status_code = 400
        return reply

    if grant_type == GRANT_CODE:
        refusal = _code_form_refusal(state)
        if refusal is not None:
            return refusal

    delay_s = settings.token_latency_ms / 1000
    before = settings.token_latency_phase == PHASE_BEFORE
    if delay_s and before and not pause(request.environ, delay_s, watch_client=True):
        if grant_type == GRANT_REFRESH:
            state.stats.grant(GRANT_REFRESH, "aborted")
        return Response(status=CLIENT_GONE_STATUS)
    outcome = _redeem(state, grant_type, secret, rotate=settings.rotate_refresh_tokens)
    if delay_s and not before:
        pause(request.environ, delay_s, watch_client=False)
    if isinstance(outcome, Rejection):
        return _rejection(grant_type, state.faults.settings.refresh_reject_style)
    return _token_reply(outcome)


def _grant() -> tuple[str, str]:
    """(grant_type, code or refresh token); the legacy GET form carries only `code`."""
    values = request.values
    grant_type = values.get("grant_type", "")
    if request.method == "GET" and not grant_type and "code" in values:
        grant_type = GRANT_CODE
    secret_field = "code" if grant_type == GRANT_CODE else "refresh_token"
    return grant_type, values.get(secret_field, "")


def _code_form_refusal(state: SandboxState) -> Response | None:
    """The access-code faults: another region's code, or a refused POST form. Neither
    spends the code, as a real refusal of the request itself would not."""
    settings = state.faults.settings
    if settings.wrong_region_codes:
        state.stats.grant(GRANT_CODE, "rejected")
        return jsonify(
            {"result": -205, "data": None, "message": "The token belongs to another region"}
        )
    if settings.refuse_code_post and request.method == "POST":
        state.stats.grant(GRANT_CODE, "rejected")
        reply = jsonify({"error": "invalid_request", "error_description": "Use GET ?code="})
        reply.status_code = 400
        return reply
    return None


def _redeem(
    state: SandboxState, grant_type: str, secret: str, *, rotate: bool
) -> TokenPair | Rejection:
    if not secret:
        outcome: TokenPair | Rejection = Rejection.UNKNOWN
    elif grant_type == GRANT_CODE:
        outcome = state.auth.redeem_code(secret)
    else:
        outcome = state.auth.redeem_refresh(secret, rotate=rotate)
    if outcome is Rejection.USED and grant_type == GRANT_REFRESH:
        state.stats.refresh_reused()
    if isinstance(outcome, Rejection):
        state.stats.grant(grant_type, "rejected")
        log.info("token grant=%s outcome=rejected reason=%s", grant_type, outcome.value)
    else:
        state.stats.grant(grant_type, "ok")
        rotated = outcome.refresh_token is not None
        log.info("token grant=%s outcome=ok new_refresh_token=%s", grant_type, rotated)
    return outcome


def _token_reply(pair: TokenPair) -> Response:
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": _seconds(pair.expires_in),
        "access_token": pair.access_token,
    }
    # Non-rotating mode omits the key entirely: the caller keeps using the token it sent.
    if pair.refresh_token is not None:
        body["refresh_token"] = pair.refresh_token
    return jsonify(body)


def _rejection(grant_type: str, style: str) -> Response:
    """A refused grant, in the configured style; never echoes the secret that was sent."""
    message = REJECTION_MESSAGES[grant_type]
    if style == "invalid_grant":
        reply = jsonify({"error": "invalid_grant", "error_description": message})
        reply.status_code = 400
    elif style == "result":
        reply = jsonify({"result": -10, "data": None, "message": message})
    elif style == "200-206":
        reply = jsonify({"result": -206, "data": None, "message": "The token is invalid"})
    elif style == "500":
        reply = jsonify({"result": -1, "data": None, "message": "Internal server error"})
        reply.status_code = 500
    else:
        reply = jsonify({"result": -20, "data": None, "message": message})
        reply.status_code = 403
    return reply


def _malformed_reply(state: SandboxState, kind: str) -> Response:
    """HTTP 200 that a careful client must refuse; the refresh token it carries is fake."""
    if kind == "not_json":
        return Response(NOT_JSON_BODY, status=200, mimetype="text/html")
    body: dict[str, Any] = {"token_type": "Bearer", "expires_in": _seconds(state.auth.lifetime_s)}
    if kind == "bad_exp":
        # No usable expiry anywhere: a client may fall back from a bad JWT `exp` to
        # `expires_in`, so both are broken.
        body["access_token"] = state.auth.mint_access_token(exp_override="soon")
        body["expires_in"] = "soon"
    body["refresh_token"] = opaque_secret()
    return jsonify(body)


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
