"""OAuth grants against `{BaseUrl}/v5/oauth2`: exchange an access code, refresh a token pair.

Revizto's refresh tokens are single-use and rotate (docs/revizto-api.md §2c), so the
caller must store the returned pair before using it; this module only talks HTTP and
classifies the outcome:
  * the grant was refused (HTTP 401/403, 400 `invalid_grant`, result -10/-20, and
    for a refresh token the "token invalid or expired" codes such as -206) →
    RefreshTokenExpired / AccessCodeRejected: a person must re-authenticate;
  * an access code of another region (result -205) → AccessCodeWrongRegion;
  * transient (network, timeout, 429, 5xx) → retried here, then TransientError. An HTTP
    500 can also be Revizto's answer to a corrupt refresh token; only the caller can tell
    the two apart, by persistence (token_service/manager.py);
  * anything else that is not a usable token reply → MalformedTokenResponse.

An access code refused in the POST form is tried once more in the legacy GET form
(`GET /v5/oauth2?code=...`), as the original tool does (docs/revizto-api.md §2a).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from revizto.envelope import (
    RESULT_WRONG_REGION,
    TOKEN_REJECTED_RESULTS,
    parse_json_body,
    result_code,
)
from revizto.errors import (
    AccessCodeRejected,
    AccessCodeWrongRegion,
    InvalidResponse,
    MalformedTokenResponse,
    OAuthError,
    RateLimited,
    RefreshTokenExpired,
    ServerError,
)
from revizto.expiry import token_expiry
from revizto.retry import RetryPolicy
from revizto.transport import RawReply, Timeouts, Transport

log = logging.getLogger(__name__)

OAUTH_PATH = "v5/oauth2"
# Result codes the token endpoint uses for a used, expired or foreign code or token
# (docs/revizto-api.md §2d, §5a), and those that mean "token invalid or expired" (-206 in
# an HTTP 200, as public clients show for a spent refresh token).
GRANT_REFUSED_RESULTS = frozenset({-10, -20}) | TOKEN_REJECTED_RESULTS
# The token call must finish well inside the refresh lock's lease, so it gets short timeouts.
TOKEN_TIMEOUTS = Timeouts(connect=5.0, read=15.0)


@dataclass(frozen=True)
class TokenPair:
    """What a grant returned. `refresh_token` is None when Revizto did not rotate it."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    requested_at: float

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.requested_at


class OAuthClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts = TOKEN_TIMEOUTS,
        retry_policy: RetryPolicy | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.transport = transport or Transport(
            base_url, timeouts=timeouts, retry_policy=retry_policy
        )

    def exchange_access_code(self, code: str) -> TokenPair:
        """Trade a Revizto access code (single-use, 15 minutes) for a token pair."""
        form = {"grant_type": "authorization_code", "code": code.strip()}
        try:
            return self._grant(form, refused=AccessCodeRejected, attempts=None)
        except AccessCodeWrongRegion:
            raise
        except (AccessCodeRejected, MalformedTokenResponse) as exc:
            if not _refused_form(exc):
                raise
            # A refused POST has not spent the code; the legacy form may still take it.
            log.info("access code refused in the POST form; trying the legacy GET form")
            return self._grant(
                {"code": form["code"]}, refused=AccessCodeRejected, attempts=None, method="GET"
            )

    def refresh(self, refresh_token: str, *, attempts: int | None = None) -> TokenPair:
        """Spend `refresh_token` for a new pair; `attempts=1` when it may already be spent."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._grant(form, refused=RefreshTokenExpired, attempts=attempts)

    def _grant(
        self,
        form: Mapping[str, str],
        *,
        refused: type[OAuthError],
        attempts: int | None,
        method: str = "POST",
    ) -> TokenPair:
        policy = self.transport.retry_policy
        if attempts is not None:
            policy = policy.with_attempts(attempts)
        grant = form.get("grant_type", "authorization_code")
        # The legacy GET form carries the code in the query string, the POST in the body.
        query, body = (form, None) if method == "GET" else (None, form)
        for attempt in policy.retrying(f"oauth2:{grant}"):
            with attempt:
                requested_at = time.time()
                reply = self.transport.send(
                    method, OAUTH_PATH, endpoint="oauth2", params=query, form=body
                )
                return parse_token_reply(reply, refused=refused, requested_at=requested_at)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _refused_form(error: Exception) -> bool:
    """A 4xx refusal of the request itself (not a network or server failure)."""
    status = getattr(error, "http_status", None)
    return isinstance(status, int) and 400 <= status < 500


def parse_token_reply(
    reply: RawReply, *, refused: type[OAuthError], requested_at: float
) -> TokenPair:
    """Classify a token-endpoint reply; a TokenPair only when everything needed is there."""
    try:
        body: Any = parse_json_body(reply.content)
    except InvalidResponse:
        body = None
    context: dict[str, Any] = {"http_status": reply.status, "endpoint": "oauth2"}
    code = result_code(body)
    error = body.get("error") if isinstance(body, Mapping) else None
    if code is not None:
        context["result"] = code

    if reply.status == 429 or code == -2300:
        raise RateLimited("token endpoint rate limited", retry_after=reply.retry_after, **context)
    if reply.status >= 500:
        raise ServerError("token endpoint failed", **context)
    if code == RESULT_WRONG_REGION and issubclass(AccessCodeWrongRegion, refused):
        raise AccessCodeWrongRegion(**context)
    if (
        reply.status in (401, 403)
        or (reply.status == 400 and error == "invalid_grant")
        or code in GRANT_REFUSED_RESULTS
    ):
        raise refused(_describe_refusal(body, reply.status), **context)
    if reply.status != 200:
        raise MalformedTokenResponse(
            f"unexpected status from token endpoint (error={error!r})", **context
        )
    if body is None:
        raise MalformedTokenResponse(
            f"token reply is not JSON ({len(reply.content)} bytes)", **context
        )
    return _token_pair(body, requested_at=requested_at, context=context)


def _token_pair(body: Any, *, requested_at: float, context: dict[str, Any]) -> TokenPair:
    if not isinstance(body, Mapping):
        raise MalformedTokenResponse("token reply is not a JSON object", **context)
    keys = sorted(str(key) for key in body)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        raise MalformedTokenResponse(f"token reply has no access_token (keys={keys})", **context)
    refresh_token = body.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise MalformedTokenResponse("token reply has an unusable refresh_token", **context)
    expires_at = token_expiry(
        access_token, body.get("expires_in"), requested_at=requested_at, now=time.time()
    )
    if expires_at is None:
        raise MalformedTokenResponse(
            f"token reply has no usable expiry: neither JWT exp nor expires_in (keys={keys})",
            **context,
        )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=expires_at,
        requested_at=requested_at,
    )


def _describe_refusal(body: Any, status: int) -> str:
    if isinstance(body, Mapping):
        for key in ("error_description", "message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return f"grant refused: {value[:200]}"
    return f"grant refused with HTTP {status}"
