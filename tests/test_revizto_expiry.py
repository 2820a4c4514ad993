"""Access-token expiry: the JWT `exp` and `expires_in`, read defensively (table-driven)."""

from __future__ import annotations

import math
from typing import Any

import jwt
import pytest

from revizto.expiry import jwt_expiry, token_expiry

NOW = 1_800_000_000.0
REQUESTED_AT = NOW - 0.25  # the request started a quarter second before the reply arrived


def make_jwt(**claims: Any) -> str:
    # Any key will do: the client reads the claim without verifying the signature.
    return jwt.encode(claims, "sandbox-signing-key-of-32-bytes!", algorithm="HS256")


@pytest.mark.parametrize(
    ("case", "exp", "expected"),
    [
        ("integer exp", int(NOW) + 3600, float(int(NOW) + 3600)),
        ("float exp with microseconds", NOW + 3599.123456, NOW + 3599.123456),
        ("already expired is still an answer", NOW - 10.5, NOW - 10.5),
        ("bool is not a number", True, None),
        ("string exp", "1800003600", None),
        ("negative", -5, None),
        ("zero", 0, None),
        ("absurdly early (1970)", 86_400, None),
        ("absurdly late (10 years)", NOW + 10 * 366 * 86_400, None),
        ("missing", None, None),
    ],
)
def test_jwt_exp_is_read_defensively(case: str, exp: Any, expected: float | None) -> None:
    claims = {"sub": "person@example.com"} if exp is None else {"exp": exp}
    assert jwt_expiry(make_jwt(**claims), now=NOW) == expected, case


@pytest.mark.parametrize("not_a_jwt", ["", "opaque-token", "a.b.c", "def50200abcdef"])
def test_a_token_that_is_not_a_jwt_has_no_exp(not_a_jwt: str) -> None:
    assert jwt_expiry(not_a_jwt, now=NOW) is None


def test_nan_and_infinity_in_exp_are_rejected() -> None:
    # PyJWT refuses to encode NaN, so build the payload by hand as a broken issuer would.
    import base64
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    for value in ("NaN", "Infinity", "-Infinity"):
        payload = b64(f'{{"exp": {value}}}'.encode())
        token = f"{header}.{payload}.{b64(b'sig')}"
        assert jwt_expiry(token, now=NOW) is None, value


@pytest.mark.parametrize(
    ("case", "exp", "expires_in", "expected"),
    [
        ("both agree: the earlier wins", NOW + 3600.5, 3600, REQUESTED_AT + 3600),
        ("jwt earlier than expires_in", NOW + 100.0, 3600, NOW + 100.0),
        ("expires_in earlier than jwt", NOW + 3600.0, 60, REQUESTED_AT + 60),
        ("no exp: expires_in from the request start", None, 3600, REQUESTED_AT + 3600),
        ("float expires_in", None, 59.5, REQUESTED_AT + 59.5),
        ("numeric string expires_in", None, "120", REQUESTED_AT + 120),
        ("bad expires_in: exp alone", NOW + 50.25, "soon", NOW + 50.25),
        ("bool expires_in ignored", NOW + 50.0, True, NOW + 50.0),
        ("zero expires_in ignored", NOW + 50.0, 0, NOW + 50.0),
        ("negative expires_in ignored", NOW + 50.0, -3600, NOW + 50.0),
        ("infinite expires_in ignored", NOW + 50.0, math.inf, NOW + 50.0),
        ("nothing usable", None, None, None),
        ("bool exp and nan expires_in", True, math.nan, None),
    ],
)
def test_expiry_is_the_earlier_usable_of_exp_and_expires_in(
    case: str, exp: Any, expires_in: Any, expected: float | None
) -> None:
    token = make_jwt(exp=exp) if exp is not None else make_jwt(sub="x")
    result = token_expiry(token, expires_in, requested_at=REQUESTED_AT, now=NOW)
    if expected is None:
        assert result is None, case
    else:
        assert result == pytest.approx(expected, abs=1e-6), case
