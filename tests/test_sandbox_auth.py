"""The sandbox's token endpoint and token checks, as Revizto's legacy OAuth flow behaves
(docs/revizto-api.md §2)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests

from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.waiting import wait_until

TOKEN_KEYS = ["token_type", "expires_in", "access_token", "refresh_token"]
INVALID_TOKEN_BODY = {
    "result": -206,
    "data": None,
    "message": "The access token is invalid or expired",
}


def _claims(access_token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return claims


def test_access_code_exchange_returns_exactly_the_four_token_keys(sandbox: SandboxProcess) -> None:
    reply = sandbox.token_request(grant_type="authorization_code", code=sandbox.access_code())
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == TOKEN_KEYS
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["refresh_token"].startswith("def50200")
    assert sandbox.stats()["token_endpoint"]["authorization_code"] == {"ok": 1, "rejected": 0}


def test_access_tokens_are_jwts_with_revizto_claims(sandbox: SandboxProcess) -> None:
    claims = _claims(sandbox.access_token())
    for name in ("iat", "nbf", "exp"):
        assert isinstance(claims[name], float), name
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=0.01)
    assert claims["exp"] != int(claims["exp"]) or claims["iat"] != int(claims["iat"])
    assert re.fullmatch(r"[0-9a-f]{32}", claims["aud"])
    assert claims["scopes"] == ["openApi"]
    assert claims["sub"] == sandbox.catalog()["user"]["email"]
    assert claims["jti"]
    assert json.loads(claims["iss"]) == {
        "host": "127.0.0.1",
        "port": sandbox.port,
        "protocol": "http",
    }


def test_token_lifetime_option_sets_expires_in_and_exp(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(token_lifetime=90.5)
    body = sandbox.exchange_code()
    claims = _claims(body["access_token"])
    assert body["expires_in"] == 90.5
    assert claims["exp"] - claims["iat"] == pytest.approx(90.5, abs=0.01)


def test_an_access_code_works_only_once(sandbox: SandboxProcess) -> None:
    code = sandbox.access_code()
    sandbox.exchange_code(code)
    again = sandbox.token_request(grant_type="authorization_code", code=code)
    assert again.status_code == 403
    assert again.json()["result"] == -20
    assert code not in again.text
    assert sandbox.stats()["token_endpoint"]["authorization_code"] == {"ok": 1, "rejected": 1}


def test_legacy_get_with_a_code_exchanges_it(sandbox: SandboxProcess) -> None:
    reply = requests.get(
        sandbox.url("/v5/oauth2"), params={"code": sandbox.access_code()}, timeout=10
    )
    body = reply.json()
    assert list(body) == TOKEN_KEYS


def test_preregistered_access_codes_work_once_each(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(access_code=["def50200first", "def50200second"])
    assert sandbox.exchange_code("def50200first")["access_token"]
    assert sandbox.exchange_code("def50200second")["access_token"]
    assert (
        sandbox.token_request(grant_type="authorization_code", code="def50200first").status_code
        == 403
    )


def test_refresh_rotates_and_the_old_refresh_token_is_rejected_with_403(
    sandbox: SandboxProcess,
) -> None:
    first = sandbox.exchange_code()
    second = sandbox.refresh(first["refresh_token"])
    assert second.status_code == 200
    assert list(second.json()) == TOKEN_KEYS
    assert second.json()["refresh_token"] != first["refresh_token"]

    reused = sandbox.refresh(first["refresh_token"])
    assert reused.status_code == 403
    assert reused.json() == {
        "result": -20,
        "data": None,
        "message": "Refresh token is invalid or already used",
    }
    assert sandbox.refresh(second.json()["refresh_token"]).status_code == 200
    stats = sandbox.stats()
    assert stats["token_endpoint"]["refresh_token"] == {"ok": 2, "rejected": 1, "aborted": 0}
    assert stats["refresh_tokens_reused"] == 1


def test_an_unknown_refresh_token_is_rejected_but_not_counted_as_reused(
    sandbox: SandboxProcess,
) -> None:
    reply = sandbox.refresh("def50200" + "ab" * 40)
    assert reply.status_code == 403
    assert sandbox.stats()["refresh_tokens_reused"] == 0


def test_non_rotating_option_omits_refresh_token_and_keeps_the_old_one_valid(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(non_rotating_refresh_tokens=True)
    refresh_token = sandbox.exchange_code()["refresh_token"]
    for _ in range(3):
        reply = sandbox.refresh(refresh_token)
        assert reply.status_code == 200
        assert list(reply.json()) == ["token_type", "expires_in", "access_token"]


def test_rotation_can_be_switched_off_and_on_at_runtime(sandbox: SandboxProcess) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(rotate_refresh_tokens=False)
    assert "refresh_token" not in sandbox.refresh(refresh_token).json()
    sandbox.set_faults(rotate_refresh_tokens=True)
    assert "refresh_token" in sandbox.refresh(refresh_token).json()
    assert sandbox.refresh(refresh_token).status_code == 403


@pytest.mark.parametrize(
    ("style", "status", "body"),
    [
        ("403", 403, {"result": -20, "data": None}),
        ("invalid_grant", 400, {"error": "invalid_grant"}),
        ("result", 200, {"result": -10, "data": None}),
        ("200-206", 200, {"result": -206, "data": None}),
        ("500", 500, {"data": None}),
    ],
)
def test_each_refresh_reject_style_answers_in_its_own_shape(
    sandbox: SandboxProcess, style: str, status: int, body: dict[str, Any]
) -> None:
    sandbox.set_faults(refresh_reject_style=style)
    first = sandbox.exchange_code()
    sandbox.refresh(first["refresh_token"])
    for reply in (
        sandbox.refresh(first["refresh_token"]),
        sandbox.token_request(grant_type="authorization_code", code="def50200nope"),
    ):
        assert reply.status_code == status
        assert body.items() <= reply.json().items()
        assert first["refresh_token"] not in reply.text


def test_every_refusal_shape_is_counted_as_a_rejected_refresh(sandbox: SandboxProcess) -> None:
    for style in ("403", "invalid_grant", "result", "200-206", "500"):
        sandbox.set_faults(refresh_reject_style=style)
        sandbox.refresh("def50200" + "0" * 40)
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 5


def test_access_code_faults_wrong_region_and_refused_post_spend_nothing(
    sandbox: SandboxProcess,
) -> None:
    code = sandbox.access_code()
    sandbox.set_faults(wrong_region_codes=True)
    reply = sandbox.token_request(grant_type="authorization_code", code=code)
    assert (reply.status_code, reply.json()["result"]) == (200, -205)
    sandbox.set_faults(wrong_region_codes=False, refuse_code_post=True)
    refused = sandbox.token_request(grant_type="authorization_code", code=code)
    assert refused.status_code == 400
    # Neither spent the code: the legacy GET form still takes it
    taken = requests.get(f"{sandbox.base_url}/v5/oauth2", params={"code": code}, timeout=10)
    assert taken.status_code == 200, taken.text
    assert "access_token" in taken.json()


def test_concurrent_refreshes_of_one_token_succeed_exactly_once(sandbox: SandboxProcess) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: sandbox.refresh(refresh_token).status_code, range(8)))
    assert statuses == [200] + [403] * 7
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["ok"] == 1


def test_unsupported_grant_type_is_a_400(sandbox: SandboxProcess) -> None:
    reply = sandbox.token_request(grant_type="client_credentials")
    assert reply.status_code == 400
    assert reply.json()["error"] == "unsupported_grant_type"


def test_an_expired_access_token_gets_401_and_minus_206(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(token_lifetime=1)
    token = sandbox.access_token()
    assert sandbox.get("/v5/user", token).status_code == 200

    def rejected() -> dict[str, Any] | None:
        reply = sandbox.get("/v5/user", token)
        return reply.json() if reply.status_code == 401 else None

    body = wait_until(rejected, timeout=5, what="the one-second token to expire")
    assert body == INVALID_TOKEN_BODY
    assert sandbox.stats()["responses_401"] >= 1


def test_missing_malformed_or_foreign_access_tokens_get_401(
    sandbox: SandboxProcess, sandbox_factory: SandboxFactory
) -> None:
    foreign = sandbox_factory().access_token()
    for token in (None, "not-a-jwt", foreign):
        reply = sandbox.get("/v5/user/licenses", token)
        assert (reply.status_code, reply.json()) == (401, INVALID_TOKEN_BODY)


def test_expired_token_status_200_option_answers_minus_206_with_http_200(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(expired_token_status=200, token_lifetime=1)
    token = sandbox.access_token()

    def rejected() -> tuple[int, dict[str, Any]] | None:
        reply = sandbox.get("/v5/user", token)
        return (reply.status_code, reply.json()) if reply.json()["result"] else None

    assert wait_until(rejected, timeout=5, what="the token to expire") == (200, INVALID_TOKEN_BODY)
    sandbox.set_faults(expired_token_status=401)
    assert sandbox.get("/v5/user", token).status_code == 401
