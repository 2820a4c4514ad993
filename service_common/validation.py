"""Validate a JSON request body with pydantic; bad input becomes a 4xx naming the field.

Bodies are capped at MAX_BODY_BYTES (Flask's MAX_CONTENT_LENGTH: 413), must say they are
JSON (415), and must parse (400, also for nesting deep enough to exhaust the parser).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

# Every body these services take is a few fields; nothing legitimate comes near this.
MAX_BODY_BYTES = 64 * 1024


class InvalidBody(Exception):
    """The body is missing, not JSON, or fails validation; carries a problem's fields."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors as `{"field", "message"}`; the offending input is never echoed,
    because it may be a secret (an access code, a refresh token)."""
    errors = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        errors.append({"field": location, "message": error["msg"]})
    return errors


def parse_body(request: Request, model: type[ModelT], *, allow_empty: bool = False) -> ModelT:
    """The request's JSON body as `model`; InvalidBody (400 or 422) otherwise."""
    if not request.get_data(cache=True) and allow_empty:
        payload: Any = {}
    else:
        if not request.is_json:
            raise InvalidBody(
                415,
                "the request body must be JSON (Content-Type: application/json)",
                [{"field": "Content-Type", "message": "expected application/json"}],
            )
        try:
            payload = request.get_json(silent=True)
        except RecursionError:
            payload = None
        if payload is None:
            raise InvalidBody(
                400,
                "the request body must be JSON",
                [{"field": "body", "message": "not valid JSON"}],
            )
    if not isinstance(payload, dict):
        raise InvalidBody(
            400,
            "the request body must be a JSON object",
            [{"field": "body", "message": "expected an object"}],
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = field_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise InvalidBody(422, f"invalid field(s): {fields}", errors) from None
