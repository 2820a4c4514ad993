"""Turn one HTTP reply into the envelope's `data`, or into the error class that says what to do.

Revizto wraps every data reply in `{"result", "data", "message"}` and reports handled
errors as HTTP 200 with a non-zero `result`, so the status code alone never means success.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from revizto.errors import (
    AccessDenied,
    ApiError,
    InvalidResponse,
    NoApiAccess,
    NotFound,
    RateLimited,
    ReviztoError,
    ServerError,
    TokenRejected,
    UnexpectedResult,
    WrongRegion,
)

# Result codes reported by public clients (docs/revizto-api.md §5a); none are official.
TOKEN_REJECTED_RESULTS = frozenset({-206, -21, -22, -31})
RESULT_ACCESS_DENIED = -20
RESULT_NO_API_ACCESS = -204
RESULT_WRONG_REGION = -205
RESULT_NOT_FOUND = -12
RESULT_RATE_LIMITED = -2300

# One public client matched "token is invalid or expired" in the body; accept the close
# variants too (docs/revizto-api.md §2d).
_TOKEN_INVALID_TEXT = re.compile(r"\btoken\b[^.]{0,40}\b(invalid|expired)\b", re.IGNORECASE)


def parse_json_body(content: bytes) -> Any:
    """Decode a JSON body; InvalidResponse when it is not JSON."""
    try:
        return json.loads(content)
    except ValueError as exc:
        raise InvalidResponse(f"reply is not JSON ({len(content)} bytes)") from exc


def result_code(body: Any) -> int | None:
    """The envelope's `result` as an int, tolerating numeric strings; None when absent."""
    if not isinstance(body, Mapping):
        return None
    value = body.get("result")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """Parse `Retry-After` (delta-seconds or an HTTP date); None when absent or unusable.

    >>> retry_after_seconds("3")
    3.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def classify_error(
    status: int,
    body: Any,
    *,
    endpoint: str,
    retry_after: float | None = None,
) -> ReviztoError | None:
    """The error a reply represents, or None when it is a success envelope.

    A recognised `result` code wins over the HTTP status, because Revizto sends handled
    errors with HTTP 200 and sometimes a generic status with a precise code.
    """
    code = result_code(body)
    message = _message(body) or f"HTTP {status}"
    context: dict[str, Any] = {"http_status": status, "result": code, "endpoint": endpoint}

    if code is not None and code != 0:
        by_code = _error_for_result(code, message, retry_after, context)
        if by_code is not None:
            return by_code
    if _TOKEN_INVALID_TEXT.search(message) and (code not in (None, 0) or status >= 400):
        return TokenRejected(message, **context)

    if status == 401:
        return TokenRejected(message, **context)
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **context)
    if status >= 500:
        return ServerError(message, **context)
    if status == 404:
        return NotFound(message, **context)
    if status == 403:
        return AccessDenied(message, **context)
    if not 200 <= status < 300:
        return ApiError(message, **context)
    if code is None:
        return InvalidResponse("reply has no envelope (no integer `result`)", endpoint=endpoint)
    if code != 0:
        return UnexpectedResult(message, **context)
    return None


def _error_for_result(
    code: int, message: str, retry_after: float | None, context: dict[str, Any]
) -> ReviztoError | None:
    if code in TOKEN_REJECTED_RESULTS:
        return TokenRejected(message, **context)
    if code == RESULT_RATE_LIMITED:
        return RateLimited(message, retry_after=retry_after, **context)
    if code == RESULT_ACCESS_DENIED:
        return AccessDenied(message, **context)
    if code == RESULT_NO_API_ACCESS:
        return NoApiAccess(message, **context)
    if code == RESULT_WRONG_REGION:
        return WrongRegion(message, **context)
    if code == RESULT_NOT_FOUND:
        return NotFound(message, **context)
    return None


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
    return ""


def unwrap(status: int, content: bytes, *, endpoint: str, retry_after: float | None) -> Any:
    """The `data` of a successful envelope; raises the classified error otherwise."""
    try:
        body = parse_json_body(content)
    except InvalidResponse as exc:
        # A non-JSON error page still has a meaningful status (a proxy's 502, say).
        error = classify_error(status, None, endpoint=endpoint, retry_after=retry_after)
        if error is not None and status != 200:
            raise error from exc
        raise InvalidResponse(str(exc), http_status=status, endpoint=endpoint) from exc
    error = classify_error(status, body, endpoint=endpoint, retry_after=retry_after)
    if error is not None:
        raise error
    if "data" not in body:
        raise InvalidResponse("envelope has no `data`", http_status=status, endpoint=endpoint)
    return body["data"]
