"""Fault injection over real HTTP: latency, failures, rate limits, malformed and hung replies."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests

from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.waiting import wait_until


@pytest.fixture
def token(sandbox: SandboxProcess) -> str:
    return sandbox.access_token()


def _refresh_stats(sandbox: SandboxProcess) -> dict[str, int]:
    counts: dict[str, int] = sandbox.stats()["token_endpoint"]["refresh_token"]
    return counts


# --- the faults route itself ------------------------------------------------------------------


def test_posting_no_changes_returns_the_settings_unchanged(sandbox: SandboxProcess) -> None:
    before = requests.get(sandbox.url("/_sandbox/faults"), timeout=10).json()
    assert sandbox.set_faults() == before
    assert before["token_latency_phase"] == "after"
    assert before["refresh_reject_style"] == "403"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"no_such_fault": 1}, "no_such_fault"),
        ({"data_latency_ms": "slow"}, "data_latency_ms"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"hang_next": True}, "hang_next"),
        ({"token_latency_phase": "during"}, "token_latency_phase"),
        ({"fail_next": {"count": 1}}, "fail_next"),
        ({"fail_next": {"count": 1, "status": 503, "scope": "db"}}, "fail_next.scope"),
        ({"expired_token_status": 403}, "expired_token_status"),
    ],
)
def test_bad_fault_updates_are_refused_naming_the_field(
    sandbox: SandboxProcess, patch: dict[str, Any], field: str
) -> None:
    before = sandbox.set_faults()
    reply = requests.post(
        sandbox.url("/_sandbox/faults"), json={"hang_next": 1, **patch}, timeout=10
    )
    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert sandbox.set_faults() == before


def test_cli_options_set_the_initial_faults(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(
        latency_ms=5, error_rate=0.25, rate_limit_rps=50, expired_token_status=200
    )
    settings = sandbox.set_faults()
    assert settings["data_latency_ms"] == 5
    assert settings["error_rate"] == 0.25
    assert settings["rate_limit_rps"] == 50
    assert settings["expired_token_status"] == 200


# --- latency --------------------------------------------------------------------------------------


def test_data_latency_delays_data_requests(sandbox: SandboxProcess, token: str) -> None:
    sandbox.set_faults(data_latency_ms=300)
    started = time.monotonic()
    assert sandbox.get("/v5/user", token).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency_does_not_serialise_64_concurrent_requests(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(data_latency_ms=50)
    clients = 64
    # Raw sockets, connected first and sent at one barrier: the client side takes
    # microseconds per request, so only the server can keep the 64 calls from overlapping.
    request = (
        f"GET /v5/user HTTP/1.1\r\nHost: 127.0.0.1:{sandbox.port}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    sockets = [
        socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) for _ in range(clients)
    ]
    gate = threading.Barrier(clients)

    def call(sock: socket.socket) -> bytes:
        with sock:
            gate.wait()
            sock.sendall(request)
            return b"".join(iter(lambda: sock.recv(65536), b""))

    with ThreadPoolExecutor(max_workers=clients) as pool:
        replies = list(pool.map(call, sockets))
    assert all(reply.startswith(b"HTTP/1.1 200") for reply in replies)
    assert sandbox.stats()["data_in_flight_peak"] == clients


def test_before_phase_latency_aborts_without_rotating_when_the_client_hangs_up(
    sandbox: SandboxProcess,
) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(token_latency_ms=5000, token_latency_phase="before")
    with pytest.raises(requests.ReadTimeout):
        sandbox.refresh(refresh_token, timeout=0.5)
    wait_until(lambda: _refresh_stats(sandbox)["aborted"] == 1, timeout=5, what="abort counted")
    sandbox.set_faults(token_latency_ms=0)
    assert sandbox.refresh(refresh_token).status_code == 200
    assert _refresh_stats(sandbox) == {"ok": 1, "rejected": 0, "aborted": 1}


def test_before_phase_latency_still_answers_a_patient_client(sandbox: SandboxProcess) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(token_latency_ms=200, token_latency_phase="before")
    started = time.monotonic()
    assert sandbox.refresh(refresh_token).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_after_phase_latency_rotates_even_if_the_client_hangs_up(sandbox: SandboxProcess) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(token_latency_ms=1500, token_latency_phase="after")
    with pytest.raises(requests.ReadTimeout):
        sandbox.refresh(refresh_token, timeout=0.5)
    assert _refresh_stats(sandbox)["ok"] == 1  # rotated before the sleep began
    sandbox.set_faults(token_latency_ms=0)
    assert sandbox.refresh(refresh_token).status_code == 403


# --- injected failures --------------------------------------------------------------------------


def test_fail_next_in_data_scope_fails_that_many_data_requests(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(fail_next={"count": 2, "status": 503, "scope": "data"})
    refresh_token = sandbox.exchange_code()["refresh_token"]  # token endpoint unaffected
    replies = [sandbox.get("/v5/user", token) for _ in range(3)]
    assert [r.status_code for r in replies] == [503, 503, 200]
    assert replies[0].json()["result"] < 0
    assert sandbox.refresh(refresh_token).status_code == 200
    assert sandbox.stats()["responses_5xx"] == 2
    assert sandbox.set_faults()["fail_next"] is None


def test_a_5xx_from_the_token_endpoint_does_not_consume_the_refresh_token(
    sandbox: SandboxProcess, token: str
) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(fail_next={"count": 1, "status": 500, "scope": "token"})
    assert sandbox.get("/v5/user", token).status_code == 200  # data scope unaffected
    assert sandbox.refresh(refresh_token).status_code == 500
    assert sandbox.refresh(refresh_token).status_code == 200


def test_fail_next_with_a_result_code_answers_http_200_with_that_code(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(fail_next={"count": 1, "status": 200, "result": -205, "scope": "all"})
    reply = sandbox.get("/v5/user", token)
    assert reply.status_code == 200
    assert reply.json()["result"] == -205
    assert sandbox.get("/v5/user", token).json()["result"] == 0


def test_fail_next_429_carries_retry_after(sandbox: SandboxProcess, token: str) -> None:
    sandbox.set_faults(fail_next={"count": 1, "status": 429, "retry_after_s": 3})
    reply = sandbox.get("/v5/user", token)
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "3")
    assert reply.json()["result"] == -2300


def test_error_rate_answers_that_fraction_of_data_requests_with_503(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(error_rate=0.5)
    statuses = [sandbox.get("/v5/user", token).status_code for _ in range(60)]
    failed = statuses.count(503)
    assert 10 <= failed <= 50
    assert failed + statuses.count(200) == 60
    assert sandbox.stats()["responses_5xx"] == failed
    sandbox.set_faults(error_rate=0)
    assert sandbox.get("/v5/user", token).status_code == 200


def test_rate_limit_answers_429_with_retry_after_and_minus_2300(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(rate_limit_rps=5, retry_after_s=2)
    replies = [sandbox.get("/v5/user", token) for _ in range(15)]
    limited = [r for r in replies if r.status_code == 429]
    assert 5 <= len(limited) <= 10
    assert {r.headers["Retry-After"] for r in limited} == {"2"}
    assert {r.json()["result"] for r in limited} == {-2300}
    assert limited[0].json()["message"] == "Too many requests"
    assert sandbox.stats()["responses_429"] == len(limited)
    sandbox.set_faults(rate_limit_rps=0)
    assert all(sandbox.get("/v5/user", token).status_code == 200 for _ in range(10))


# --- failing projects ---------------------------------------------------------------------------


def _two_projects(sandbox: SandboxProcess) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Two readable projects of the main licence, and that licence's uuid."""
    licence = sandbox.catalog()["licenses"][0]
    first, second = licence["projects"][:2]
    return first, second, licence["uuid"]


def _issues_path(project_ref: Any) -> str:
    return f"/v5/project/{project_ref}/issue-filter/filter"


def test_fail_projects_fails_every_data_route_of_those_projects_until_cleared(
    sandbox: SandboxProcess, token: str
) -> None:
    failing, healthy, licence_uuid = _two_projects(sandbox)
    issue_uuid = sandbox.data(_issues_path(failing["uuid"]), token, limit=1)["data"][0]["uuid"]
    comments_path = f"/v5/issue/{issue_uuid}/comments/date"
    licence_paths = [
        "/v5/user/licenses",
        f"/v5/license/{licence_uuid}/team",
        f"/v5/license/{licence_uuid}/projects",
        f"/v5/project/list/{licence_uuid}/paged",
    ]
    sandbox.reset_stats()

    settings = sandbox.set_faults(fail_projects=[failing["uuid"]])
    assert settings["fail_projects"] == [failing["uuid"].replace("-", "")]
    failed = [
        sandbox.get(_issues_path(failing["uuid"]), token, limit=1),
        sandbox.get(_issues_path(failing["id"]), token, limit=1),  # numeric id, same project
        sandbox.get(f"/v5/project/{failing['uuid']}/team", token),
        sandbox.get(comments_path, token, projectId=failing["id"], date="2000-01-01"),
    ]
    assert [reply.status_code for reply in failed] == [500] * 4
    assert {reply.json()["result"] for reply in failed} == {-1}
    assert sandbox.get(_issues_path(healthy["uuid"]), token, limit=1).status_code == 200
    assert [sandbox.get(path, token).status_code for path in licence_paths] == [200] * 4
    assert sandbox.stats()["responses_5xx"] == 4

    assert sandbox.set_faults(fail_projects=[])["fail_projects"] == []
    assert sandbox.data(_issues_path(failing["uuid"]), token, limit=1)["count"] > 0
    assert sandbox.get(f"/v5/project/{failing['uuid']}/team", token).status_code == 200
    reply = sandbox.get(comments_path, token, projectId=failing["id"], date="2000-01-01")
    assert (reply.status_code, reply.json()["result"]) == (200, 0)


@pytest.mark.parametrize(
    "value", ["abc", [1], ["not-a-uuid"], {"uuid": "0" * 32}, ["0" * 31], ["0" * 32 + "\n"], True]
)
def test_a_bad_fail_projects_value_is_refused_and_changes_nothing(
    sandbox: SandboxProcess, value: Any
) -> None:
    failing, _, _ = _two_projects(sandbox)
    before = sandbox.set_faults(fail_projects=[failing["uuid"]])
    reply = requests.post(
        sandbox.url("/_sandbox/faults"), json={"hang_next": 1, "fail_projects": value}, timeout=10
    )
    assert reply.status_code == 400
    assert reply.json()["field"] == "fail_projects"
    assert sandbox.set_faults() == before


def test_null_clears_fail_projects(sandbox: SandboxProcess, token: str) -> None:
    failing, _, _ = _two_projects(sandbox)
    sandbox.set_faults(fail_projects=[failing["uuid"]])
    assert sandbox.set_faults(fail_projects=None)["fail_projects"] == []
    assert sandbox.get(_issues_path(failing["uuid"]), token, limit=1).status_code == 200


def test_dashed_and_undashed_spellings_of_a_project_uuid_match(
    sandbox: SandboxProcess, token: str
) -> None:
    failing, _, _ = _two_projects(sandbox)
    dashed = failing["uuid"].upper()
    undashed = dashed.replace("-", "")
    assert "-" in dashed

    for configured, requested in ((undashed, dashed), (dashed, undashed)):
        settings = sandbox.set_faults(fail_projects=[configured])
        assert settings["fail_projects"] == [undashed.lower()]
        assert sandbox.get(_issues_path(requested), token, limit=1).status_code == 500

    both = sandbox.set_faults(fail_projects=[dashed, undashed])
    assert both["fail_projects"] == [undashed.lower()]  # one project, stored once


def test_a_failing_project_does_not_spend_a_pending_fail_next(
    sandbox: SandboxProcess, token: str
) -> None:
    failing, healthy, _ = _two_projects(sandbox)
    sandbox.set_faults(
        fail_projects=[failing["uuid"]], fail_next={"count": 1, "status": 503, "scope": "data"}
    )
    assert [
        sandbox.get(_issues_path(failing["uuid"]), token, limit=1).status_code for _ in range(3)
    ] == [500] * 3
    assert sandbox.set_faults()["fail_next"]["count"] == 1
    assert sandbox.get(_issues_path(healthy["uuid"]), token, limit=1).status_code == 503


# --- token endpoint faults ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["not_json", "no_access_token", "bad_exp"])
def test_a_malformed_token_reply_does_not_consume_the_refresh_token(
    sandbox: SandboxProcess, kind: str
) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(malformed_token_responses=1, malformed_kind=kind)
    reply = sandbox.refresh(refresh_token)
    assert reply.status_code == 200
    _assert_malformed(reply, kind)
    assert sandbox.refresh(refresh_token).status_code == 200
    assert sandbox.stats()["token_endpoint"]["malformed"] == 1


def test_malformed_replies_cycle_through_the_kinds_by_default(sandbox: SandboxProcess) -> None:
    code = sandbox.access_code()
    sandbox.set_faults(malformed_token_responses=3)
    for kind in ("not_json", "no_access_token", "bad_exp"):
        _assert_malformed(sandbox.token_request(grant_type="authorization_code", code=code), kind)
    assert sandbox.exchange_code(code)["access_token"]


def _assert_malformed(reply: requests.Response, kind: str) -> None:
    if kind == "not_json":
        with pytest.raises(ValueError, match="Expecting value"):
            reply.json()
        return
    body = reply.json()
    if kind == "no_access_token":
        assert "access_token" not in body
    else:
        claims = jwt.decode(
            body["access_token"], options={"verify_signature": False, "verify_exp": False}
        )
        assert isinstance(claims["exp"], str)


def test_hang_next_never_answers_until_the_client_gives_up(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.set_faults(hang_next=1)
    with pytest.raises(requests.ReadTimeout):
        sandbox.get("/v5/user", token, timeout=0.5)
    assert sandbox.get("/v5/user", token).status_code == 200


def test_hang_next_applies_to_the_token_endpoint_without_spending_the_token(
    sandbox: SandboxProcess,
) -> None:
    refresh_token = sandbox.exchange_code()["refresh_token"]
    sandbox.set_faults(hang_next=1, hang_scope="token")
    with pytest.raises(requests.ReadTimeout):
        sandbox.refresh(refresh_token, timeout=0.5)
    assert sandbox.refresh(refresh_token).status_code == 200


def test_revoking_kills_issued_refresh_tokens_but_not_later_ones(sandbox: SandboxProcess) -> None:
    issued = [sandbox.exchange_code()["refresh_token"] for _ in range(2)]
    settings = sandbox.set_faults(revoke_refresh_tokens=True)
    assert settings["revoke_refresh_tokens"] is False  # an action, not a lasting setting
    assert [sandbox.refresh(token).status_code for token in issued] == [403, 403]
    fresh = sandbox.exchange_code()["refresh_token"]
    assert sandbox.refresh(fresh).status_code == 200
    assert sandbox.stats()["refresh_tokens_reused"] == 0
