"""RFC 9457 problem details: the one error shape every service here answers with."""

from __future__ import annotations

from typing import Any

from flask import Response, json

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types are URIs; they need not resolve, but they must be stable for callers.
PROBLEM_TYPE_BASE = "https://revizto-exporter.invalid/problems/"


def problem(
    status: int,
    title: str,
    *,
    problem_type: str = "about:blank",
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Build a problem+json response; `problem_type` is a slug under PROBLEM_TYPE_BASE."""
    body: dict[str, Any] = {
        "type": problem_type if problem_type == "about:blank" else PROBLEM_TYPE_BASE + problem_type,
        "title": title,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    body.update(extensions)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
