"""The job API's contract: authentication, validation naming the field, idempotency,
listing, cancelling, downloads that cannot escape the job's folder, and OpenAPI."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from tests.conftest import stop_and_check_for_leaks
from tests.support.exporter import ExporterStack
from tests.support.redis_server import PrivateRedis
from tests.support.sandbox import SandboxProcess

API_TESTS_REDIS_DB = 3
# A page token holding [10**400, "x"]: an integer no float can hold.
HUGE_SCORE_TOKEN = base64.urlsafe_b64encode(
    json.dumps([10**400, "x"]).encode()
).decode()  # a database of its own, so the per-test flush of db 0 spares it


@pytest.fixture(scope="module")
def stack(
    redis_server: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExporterStack]:
    """One stack for the whole module: these tests do not disturb each other."""
    directory = tmp_path_factory.mktemp("api-stack")
    sandbox = SandboxProcess(directory, projects=2, issues_per_project=20)
    redis.Redis.from_url(redis_server.url(API_TESTS_REDIS_DB)).flushdb()
    stack = ExporterStack(directory, redis_server.url(API_TESTS_REDIS_DB), sandbox, workers=1)
    yield stack
    try:
        stop_and_check_for_leaks(stack)
    finally:
        sandbox.stop()


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key-of-ours-at-all", "Token abc"])
def test_every_v1_route_needs_an_api_key(stack: ExporterStack, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("POST", "/v1/exports"),
        ("GET", "/v1/exports"),
        ("GET", "/v1/exports/0123456789abcdef0123456789abcdef"),
        ("POST", "/v1/exports/0123456789abcdef0123456789abcdef:cancel"),
        ("GET", "/v1/exports/0123456789abcdef0123456789abcdef/files/manifest.json"),
        ("GET", "/v1/projects"),
    ]:
        reply = requests.request(method, stack.api_url + path, headers=headers, timeout=10)
        assert reply.status_code == 401, (method, path)
        assert reply.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ("{not json", 400, "body"),
        ("[]", 400, "body"),
        ({"resources": ["issues", "clashes"]}, 422, "resources.1"),
        ({"resources": []}, 422, "resources"),
        ({"resources": "issues"}, 422, "resources"),
        ({"format": "xml"}, 422, "format"),
        ({"project_uuids": ["not-a-uuid"]}, 422, "project_uuids.0"),
        ({"license_uuid": 12345}, 422, "license_uuid"),
        ({"updated_since": "last tuesday"}, 422, "updated_since"),
        ({"include_archived": "yes"}, 422, "include_archived"),
        ({"surprise": 1}, 422, "surprise"),
        ({"destination": {"type": "database", "name": "nope"}}, 422, "destination.name"),
        (
            {"destination": {"type": "database", "name": "local"}, "format": "csv"},
            422,
            "destination",
        ),
        ({"destination": {"type": "s3"}}, 422, "destination"),
        ({"mode": "sometimes"}, 422, "mode"),
    ],
)
def test_bad_requests_are_4xx_problems_naming_the_field(
    stack: ExporterStack, body: Any, status: int, field: str
) -> None:
    data = body if isinstance(body, str) else None
    reply = stack.call(
        "POST",
        "/v1/exports",
        data=data,
        json=None if data is not None else body,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in reply.json()["errors"]}


def test_the_same_idempotency_key_and_body_return_the_same_job(stack: ExporterStack) -> None:
    body = {"resources": ["licenses", "projects"]}
    first = stack.call(
        "POST", "/v1/exports", json=body, headers={"Idempotency-Key": "nightly-2026-11-28"}
    )
    again = stack.call(
        "POST", "/v1/exports", json=body, headers={"Idempotency-Key": "nightly-2026-11-28"}
    )
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/v1/exports/{first.json()['id']}"
    conflict = stack.call(
        "POST",
        "/v1/exports",
        json={"resources": ["issues"]},
        headers={"Idempotency-Key": "nightly-2026-11-28"},
    )
    assert conflict.status_code == 422
    assert conflict.json()["type"].endswith("/idempotency-key-reused")
    other = stack.call(
        "POST", "/v1/exports", json=body, headers={"Idempotency-Key": "nightly-2026-11-29"}
    )
    assert other.json()["id"] != first.json()["id"]
    stack.wait_finished(first.json()["id"])
    stack.wait_finished(other.json()["id"])


def test_jobs_are_listed_newest_first_with_filters_and_pages(stack: ExporterStack) -> None:
    ids = [stack.submit({"resources": ["licenses"]})["id"] for _ in range(3)]
    for job_id in ids:
        stack.wait_finished(job_id)
    page = stack.call("GET", "/v1/exports", params={"limit": 2}).json()
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2]
    listed = [j["id"] for j in page["jobs"]]
    token = page["next_page_token"]
    while token is not None:
        more = stack.call("GET", "/v1/exports", params={"limit": 2, "page_token": token}).json()
        listed += [j["id"] for j in more["jobs"]]
        token = more["next_page_token"]
    assert len(listed) == len(set(listed))
    assert listed[2] == ids[0]
    created = [stack.job(job_id)["created_at"] for job_id in listed]
    assert created == sorted(created, reverse=True)
    succeeded = stack.call("GET", "/v1/exports", params={"state": "succeeded"}).json()["jobs"]
    assert set(ids) <= {j["id"] for j in succeeded}
    cancelled = stack.call("GET", "/v1/exports", params={"state": "cancelled"}).json()["jobs"]
    assert not set(ids) & {j["id"] for j in cancelled}
    bad = stack.call("GET", "/v1/exports", params={"state": "done", "limit": 1000})
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"state", "limit"}
    assert stack.call("GET", "/v1/exports", params={"page_token": "garbage!"}).status_code == 400
    # Listings are summaries: a job's projects and files are in its own view
    assert "projects" not in page["jobs"][0]
    assert "projects" in stack.job(ids[0])


def test_unknown_jobs_and_files_outside_the_job_are_404(stack: ExporterStack) -> None:
    job = stack.submit({"resources": ["licenses"]})
    stack.wait_finished(job["id"])
    assert stack.call("GET", "/v1/exports/0123456789abcdef0123456789abcdef").status_code == 404
    assert stack.call("GET", "/v1/exports/..%2F..%2Fetc").status_code == 404
    for name in [
        "../../appsettings.json",
        "..%2F..%2Fappsettings.json",
        "%2e%2e%2fmanifest.json",
        ".hidden",
        "licenses.ndjson.partial",
    ]:
        reply = stack.call("GET", f"/v1/exports/{job['id']}/files/{name}")
        assert reply.status_code == 404, name
    assert stack.call("GET", f"/v1/exports/{job['id']}/files/licenses.ndjson").status_code == 200


def test_a_finished_job_cannot_be_cancelled(stack: ExporterStack) -> None:
    job = stack.submit({"resources": ["licenses"]})
    stack.wait_finished(job["id"])
    reply = stack.call("POST", f"/v1/exports/{job['id']}:cancel")
    assert reply.status_code == 409


def test_projects_are_listed_for_choosing(stack: ExporterStack) -> None:
    first = stack.call("GET", "/v1/projects")
    assert first.status_code == 200
    assert first.headers["X-Cache"] == "miss"
    licences = first.json()["licenses"]
    exportable = [lic for lic in licences if lic["exportable"]]
    assert len(exportable) == 1
    assert len(exportable[0]["projects"]) == 2
    assert all(isinstance(p["id"], int) for p in exportable[0]["projects"])
    assert {lic["reason"] for lic in licences if not lic["exportable"]} == {
        "frozen",
        "no_api_access",
    }
    again = stack.call("GET", "/v1/projects")
    assert again.headers["X-Cache"] == "hit"
    assert again.json() == first.json()


def test_openapi_describes_every_route(stack: ExporterStack) -> None:
    from api.app import create_app
    from api.keys import ApiKeys
    from api.settings import ApiSettings

    spec = requests.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    app = create_app(ApiSettings(keys=ApiKeys.parse("k" * 16)))
    actual = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        actual |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert documented == actual


def test_health_readiness_and_metrics(stack: ExporterStack) -> None:
    assert requests.get(f"{stack.api_url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{stack.api_url}/readyz", timeout=5).status_code == 200
    stack.call("GET", "/v1/exports")
    metrics = requests.get(f"{stack.api_url}/metrics", timeout=5).text
    assert 'revizto_http_requests_total{method="GET",route="/v1/exports",status="200"}' in metrics
    assert "revizto_export_queue_depth" in metrics


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "²"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"page_token": "W05hTiwieCJd"}, "page_token"),
        ({"limit": "1" * 5000}, "limit"),
        ({"page_token": HUGE_SCORE_TOKEN}, "page_token"),
    ],
)
def test_odd_query_values_are_400_not_500(
    stack: ExporterStack, params: dict[str, str], field: str
) -> None:
    reply = stack.call("GET", "/v1/exports", params=params)
    assert reply.status_code == 400, reply.text
    assert field in {e["field"] for e in reply.json()["errors"]}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_timestamps_are_422(stack: ExporterStack, moment: str) -> None:
    reply = stack.call("POST", "/v1/exports", json={"updated_since": moment})
    assert reply.status_code == 422, reply.text
    assert "updated_since" in {e["field"] for e in reply.json()["errors"]}


def test_unknown_http_methods_do_not_create_metric_series(stack: ExporterStack) -> None:
    requests.request("FOOBAR123", f"{stack.api_url}/healthz", timeout=5)
    metrics = requests.get(f"{stack.api_url}/metrics", timeout=5).text
    assert "FOOBAR123" not in metrics
    assert 'method="other"' in metrics


def test_a_replayed_idempotency_key_leaves_no_orphan_job(stack: ExporterStack) -> None:
    body = {"resources": ["licenses"]}
    headers = {"Idempotency-Key": "orphan-check"}
    first = stack.call("POST", "/v1/exports", json=body, headers=headers).json()
    stack.call("POST", "/v1/exports", json=body, headers=headers)
    stack.call("POST", "/v1/exports", json={"resources": ["projects"]}, headers=headers)
    stack.wait_finished(first["id"])
    listed = stack.call("GET", "/v1/exports", params={"limit": 100}).json()["jobs"]
    same_request = [j for j in listed if j["request"]["resources"] in (["licenses"], ["projects"])]
    assert first["id"] in {j["id"] for j in same_request}
    assert not [j for j in same_request if j["state"] == "queued" and j["id"] != first["id"]]


def test_jobs_belong_to_the_key_that_made_them_and_admin_keys_see_all(
    stack: ExporterStack,
) -> None:
    job = stack.submit({"resources": ["licenses"]})
    stack.wait_finished(job["id"])
    assert job["owner"] == "main"
    # Logs name the key, never show it
    assert f"export submitted job={job['id']} by=main" in stack.logs()
    assert stack.api_key not in stack.logs()
    other = {"Authorization": f"Bearer {stack.other_key}"}
    for method, path in [
        ("GET", f"/v1/exports/{job['id']}"),
        ("GET", f"/v1/exports/{job['id']}/files/manifest.json"),
        ("GET", f"/v1/exports/{job['id']}/files/licenses.ndjson"),
        ("POST", f"/v1/exports/{job['id']}:cancel"),
        ("POST", f"/v1/exports/{job['id']}:retry"),
        ("DELETE", f"/v1/exports/{job['id']}"),
    ]:
        reply = stack.call(method, path, headers=other)
        assert reply.status_code == 404, (method, path, reply.status_code)
    listed = stack.call("GET", "/v1/exports", headers=other, params={"limit": 100}).json()
    assert job["id"] not in {j["id"] for j in listed["jobs"]}
    # Its own key and an admin key see it; a bare key is named by its fingerprint
    assert stack.call("GET", f"/v1/exports/{job['id']}").status_code == 200
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    assert stack.call("GET", f"/v1/exports/{job['id']}", headers=admin).status_code == 200
    everything = stack.call("GET", "/v1/exports", headers=admin, params={"limit": 100}).json()
    assert job["id"] in {j["id"] for j in everything["jobs"]}
    bare = {"Authorization": f"Bearer {stack.bare_key}"}
    mine = stack.call("POST", "/v1/exports", json={"resources": ["licenses"]}, headers=bare)
    assert mine.status_code == 202
    assert mine.json()["owner"].startswith("key-")
    assert stack.call("GET", f"/v1/exports/{job['id']}", headers=bare).status_code == 404
    assert stack.call("DELETE", f"/v1/exports/{mine.json()['id']}", headers=bare).status_code == 204


DEEPLY_NESTED = "[" * 30_000 + "]" * 30_000  # under the size cap, too deep for the parser


@pytest.mark.parametrize(
    ("data", "content_type", "status", "field"),
    [
        (DEEPLY_NESTED, "application/json", 400, "body"),
        ("[" * 100_000 + "]" * 100_000, "application/json", 413, "body"),
        (
            '{"resources": ["issues"], "x": "' + "a" * 10_000_000 + '"}',
            "application/json",
            413,
            "body",
        ),
        ('{"resources": ["issues"]}', "text/plain", 415, "Content-Type"),
    ],
    ids=["nested-30k", "nested-100k", "10MB", "text-plain"],
)
def test_hostile_bodies_are_4xx_problems_and_create_nothing(
    stack: ExporterStack, data: str, content_type: str, status: int, field: str
) -> None:
    before = stack.call("GET", "/v1/exports", params={"limit": 100}).json()["jobs"]
    reply = stack.call("POST", "/v1/exports", data=data, headers={"Content-Type": content_type})
    assert reply.status_code == status, reply.text[:500]
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in reply.json()["errors"]}
    assert stack.call("GET", "/v1/exports", params={"limit": 100}).json()["jobs"] == before


def test_a_wrong_method_is_405_with_allow(stack: ExporterStack) -> None:
    reply = stack.call("PUT", "/v1/exports")
    assert reply.status_code == 405
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert set(reply.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_year_before_1000_stays_a_four_digit_rfc3339_year(stack: ExporterStack) -> None:
    # Found by schemathesis: strftime("%Y") does not pad year 19, and the view failed.
    job = stack.submit({"resources": ["issues"], "updated_since": "0019-08-20T03:30:31Z"})
    done = stack.wait_finished(job["id"])
    assert {p["since"] for p in done["projects"]} == {"0019-08-20T03:30:31Z"}
