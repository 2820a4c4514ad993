"""Classifying Revizto replies: each failure maps to the error class naming the action."""

from __future__ import annotations

import json
from typing import Any

import pytest

from revizto import errors
from revizto.envelope import classify_error, retry_after_seconds, unwrap


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"result": 0, "data": [], "message": ""}, None),
        (
            401,
            {"result": -206, "message": "The access token is invalid or expired"},
            errors.TokenRejected,
        ),
        (200, {"result": -206, "message": "The access token is invalid"}, errors.TokenRejected),
        (200, {"result": -21, "message": "x"}, errors.TokenRejected),
        (200, {"result": -22, "message": "x"}, errors.TokenRejected),
        (200, {"result": -31, "message": "x"}, errors.TokenRejected),
        (200, {"result": "-206", "message": "stringly typed"}, errors.TokenRejected),
        (200, {"result": -1, "message": "Token is expired"}, errors.TokenRejected),
        (401, None, errors.TokenRejected),
        (200, {"result": -20, "message": "Not enough rights"}, errors.AccessDenied),
        (403, {"result": 0, "message": "Forbidden"}, errors.AccessDenied),
        (200, {"result": -204, "message": "no API access"}, errors.NoApiAccess),
        (200, {"result": -205, "message": "other region"}, errors.WrongRegion),
        (429, {"result": -2300, "message": "Too many requests"}, errors.RateLimited),
        (200, {"result": -2300, "message": "Too many requests"}, errors.RateLimited),
        (429, None, errors.RateLimited),
        (500, None, errors.ServerError),
        (503, {"result": -1, "message": "maintenance"}, errors.ServerError),
        (404, None, errors.NotFound),
        (200, {"result": -12, "message": "Entity does not exist"}, errors.NotFound),
        (200, {"result": -9999, "message": "?"}, errors.UnexpectedResult),
        (200, {"data": []}, errors.InvalidResponse),
        (200, ["not", "an", "envelope"], errors.InvalidResponse),
        (200, {"result": True, "data": []}, errors.InvalidResponse),
    ],
)
def test_reply_is_classified_by_result_code_then_status(
    status: int, body: Any, expected: type[Exception] | None
) -> None:
    error = classify_error(status, body, endpoint="issues", retry_after=2.0)
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected, error


def test_configuration_errors_are_never_token_problems() -> None:
    for cls in (errors.AccessDenied, errors.NoApiAccess, errors.WrongRegion):
        assert issubclass(cls, errors.ConfigurationError)
        assert not issubclass(cls, errors.TokenRejected | errors.TransientError)


def test_only_transient_errors_are_retryable() -> None:
    transient = {errors.NetworkError, errors.RequestTimeout, errors.RateLimited, errors.ServerError}
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.ReviztoError):
            assert issubclass(cls, errors.TransientError) == (
                cls in transient or cls is errors.TransientError
            ), cls


def test_rate_limited_carries_retry_after() -> None:
    error = classify_error(429, {"result": -2300}, endpoint="issues", retry_after=4.0)
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after == 4.0


def test_unwrap_returns_data_and_rejects_non_json() -> None:
    ok = json.dumps({"result": 0, "data": {"x": 1}, "message": ""}).encode()
    assert unwrap(200, ok, endpoint="user", retry_after=None) == {"x": 1}
    with pytest.raises(errors.InvalidResponse):
        unwrap(200, b"<html>oops</html>", endpoint="user", retry_after=None)
    with pytest.raises(errors.ServerError):
        unwrap(502, b"<html>bad gateway</html>", endpoint="user", retry_after=None)
    with pytest.raises(errors.InvalidResponse):
        unwrap(200, json.dumps({"result": 0}).encode(), endpoint="user", retry_after=None)


def test_error_messages_name_the_endpoint_and_codes() -> None:
    error = classify_error(200, {"result": -205, "message": "wrong region"}, endpoint="licenses")
    assert str(error) == "wrong region (endpoint=licenses, http_status=200, result=-205)"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("-2", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_header_is_parsed(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date_is_relative_to_now() -> None:
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0
