"""Revizto's reply envelope `{result, data, message}`: HTTP 200 even for most errors
(docs/revizto-api.md §3a, §5a)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

# Result codes the sandbox answers with, and the messages real clients match on
# (docs/revizto-api.md §5a).
ENTITY_MISSING = -12
ACCESS_DENIED = -20
NO_API_ACCESS = -204
TOKEN_INVALID = -206
TOO_MANY_REQUESTS = -2300
GENERIC_FAILURE = -1
RESULT_MESSAGES = {
    -1: "Internal error",
    -10: "Access code is invalid, expired or already used",
    -12: "Entity does not exist",
    -20: "Not enough rights",
    -204: "The account no longer provides API access",
    -205: "The access token was issued in a different region",
    -206: "The access token is invalid or expired",
    -2300: "Too many requests",
}


def ok(data: Any) -> Response:
    return jsonify({"result": 0, "data": data, "message": ""})


def failure(
    result: int,
    message: str | None = None,
    *,
    status: int = 200,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error envelope; HTTP 200 unless the real API is known to use a status."""
    response = jsonify(
        {"result": result, "data": data, "message": message or RESULT_MESSAGES.get(result, "Error")}
    )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def entities(items: list[Any]) -> Response:
    """The unpaged list shape: `data.entities` + `data.count`."""
    return ok({"entities": items, "count": len(items)})


def retry_after_header(seconds: float) -> str:
    """Whole seconds as HTTP wants them; fractions kept so tests can use short waits.

    >>> retry_after_header(2.0), retry_after_header(0.25)
    ('2', '0.25')
    """
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
