"""Everything that can go wrong talking to Revizto, arranged by what the caller should do.

    ReviztoError
    ├── TransientError               retry with backoff (the client already did, 3 attempts)
    │   ├── NetworkError             connection refused/reset, DNS
    │   ├── RequestTimeout           connect or read timeout
    │   ├── RateLimited              HTTP 429 or result -2300; carries retry_after
    │   └── ServerError              HTTP 5xx
    ├── ApiError                     Revizto answered, and said no
    │   ├── TokenRejected            HTTP 401, result -206/-21/-22/-31, "token is invalid or
    │   │                            expired": refresh the access token, retry once
    │   ├── ConfigurationError       a person must fix configuration; refreshing won't help
    │   │   ├── AccessDenied         result -20, HTTP 403 on a data endpoint
    │   │   ├── NoApiAccess          result -204: the licence has no API access
    │   │   └── WrongRegion          result -205: token issued by another region
    │   ├── NotFound                 HTTP 404, result -12
    │   └── UnexpectedResult         any other non-zero result: give up, report it
    ├── InvalidResponse              not JSON, no envelope, missing fields: give up, report it
    │   └── MalformedTokenResponse   a token reply without a usable access token or expiry
    └── OAuthError                   the token endpoint refused a grant
        ├── RefreshTokenExpired      HTTP 403, 400 invalid_grant, result -10/-20/-206:
        │                            a human must re-authenticate with a new access code
        └── AccessCodeRejected       the access code is used, expired or wrong
            └── AccessCodeWrongRegion   result -205: the code is another region's

RateLimited and ServerError are also ApiErrors (they carry the HTTP status and result).
Messages never contain a token: the caller may log them as they are.
"""

from __future__ import annotations


class ReviztoError(Exception):
    """Base of every error this client raises."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        result: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.result = result
        self.endpoint = endpoint

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("endpoint", self.endpoint),
                ("http_status", self.http_status),
                ("result", self.result),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message


class TransientError(ReviztoError):
    """Worth retrying later: the request may succeed if repeated."""


class NetworkError(TransientError):
    """The connection could not be made or broke off."""


class RequestTimeout(TransientError):
    """Revizto did not answer within the connect or read timeout."""


class ApiError(ReviztoError):
    """Revizto answered with an error status or a non-zero `result`."""


class RateLimited(TransientError, ApiError):
    """HTTP 429 or result -2300; `retry_after` is Revizto's requested pause in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        http_status: int | None = None,
        result: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, result=result, endpoint=endpoint)
        self.retry_after = retry_after


class ServerError(TransientError, ApiError):
    """HTTP 5xx."""


class TokenRejected(ApiError):
    """The access token was refused: refresh it and retry the request once."""


class ConfigurationError(ApiError):
    """Access is refused for a reason no token refresh can fix."""


class AccessDenied(ConfigurationError):
    """Not enough rights (result -20, HTTP 403 on a data endpoint)."""


class NoApiAccess(ConfigurationError):
    """The account or licence does not provide API access (result -204)."""


class WrongRegion(ConfigurationError):
    """The token was issued by another Revizto region (result -205): check BaseUrl."""


class NotFound(ApiError):
    """Unknown path (HTTP 404) or entity (result -12)."""


class UnexpectedResult(ApiError):
    """A non-zero `result` this client has no specific meaning for."""


class InvalidResponse(ReviztoError):
    """The reply could not be understood: not JSON, no envelope, or fields missing."""


class MalformedTokenResponse(InvalidResponse):
    """A token reply without a usable access token or expiry; old tokens stay in force."""


class OAuthError(ReviztoError):
    """The token endpoint refused a grant."""


class RefreshTokenExpired(OAuthError):
    """The refresh token is expired, revoked or already used: re-authentication required."""


class AccessCodeRejected(OAuthError):
    """The access code was refused (used, older than 15 minutes, or not an access code)."""


class AccessCodeWrongRegion(AccessCodeRejected):
    """The access code was issued by another Revizto region (result -205): BaseUrl must
    name that region's API host. The message says so, since that is the whole fix."""

    def __init__(
        self,
        detail: str = "",
        *,
        http_status: int | None = None,
        result: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        message = (
            "this access code belongs to another region: "
            "set BaseUrl to https://api.<region>.revizto.com"
        )
        super().__init__(
            f"{message} ({detail})" if detail else message,
            http_status=http_status,
            result=result,
            endpoint=endpoint,
        )
