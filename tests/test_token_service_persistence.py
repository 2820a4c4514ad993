"""appsettings.json, the durable mirror: rotation lands there atomically (0600, unknown keys
kept), a read-only file is survived, and Redis is the truth whenever it has state."""

from __future__ import annotations

import json
import random
import stat
import threading
import time
from pathlib import Path
from typing import Any

import redis
import requests

from tests.support.sandbox import SandboxFactory
from tests.support.token_service import StartService, token, write_appsettings
from tests.support.waiting import wait_until


def read_settings(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_rotation_is_mirrored_with_mode_0600_and_unknown_keys_kept(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    service = start_service(sandbox, path)
    first = read_settings(path)
    generation = token(service)["generation"]
    service.report_rejection(generation)
    after = read_settings(path)
    # The rotated refresh token is in the file, with the generation that goes with it
    assert after["ReviztoAPI"]["RefreshToken"] != first["ReviztoAPI"]["RefreshToken"]
    assert after["TokenState"]["Generation"] == generation + 1
    # The exchanged access code is spent, so it is not left looking usable
    assert after["ReviztoAPI"]["ApiKey"] == ""
    assert after["Logging"] == {"LogLevel": {"Default": "Information"}}
    assert after["ReviztoAPI"]["BaseUrl"] == "https://api.virginia.revizto.com"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".appsettings")]
    # And the stored refresh token is the live one (spending it here is the last step)
    assert sandbox.refresh(after["ReviztoAPI"]["RefreshToken"]).status_code == 200


def test_the_file_stays_parseable_when_the_writer_is_killed_mid_rotation(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    rng = random.Random(7)
    for round_ in range(4):
        service = start_service(sandbox, path)
        stop = threading.Event()

        def churn(service: Any = service, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    reply = service.get_token()
                    if reply.ok:
                        service.report_rejection(reply.json()["generation"])
                except requests.RequestException:
                    return

        worker = threading.Thread(target=churn, daemon=True)
        worker.start()
        time.sleep(rng.uniform(0.2, 0.6))  # the kill lands at an arbitrary point of the churn
        service.kill()
        stop.set()
        worker.join(timeout=10)
        document = read_settings(path)  # must parse: the rename is atomic
        assert document["ReviztoAPI"]["RefreshToken"], round_
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_read_only_file_is_counted_and_the_service_carries_on_from_redis(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    service = start_service(sandbox, path)
    generation = token(service)["generation"]
    before = path.read_text()
    path.chmod(0o400)
    try:
        for step in range(2):
            reply = service.report_rejection(generation + step)
            assert reply.status_code == 200, reply.text
            assert reply.json()["generation"] == generation + step + 1
        assert service.metric("revizto_token_persist_failures_total") == 2
        assert path.read_text() == before
        assert "could not persist tokens to appsettings" in service.log()
    finally:
        path.chmod(0o600)


def test_after_redis_loses_its_data_a_restart_recovers_from_the_file(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path, redis_url: str
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    service = start_service(sandbox, path)
    generation = service.report_rejection(token(service)["generation"]).json()["generation"]
    service.stop()
    redis.Redis.from_url(redis_url).flushall()

    restarted = start_service(sandbox, path)
    recovered = token(restarted)
    # The file's generation carries on: no going back, and no new access code was needed
    assert recovered["generation"] == generation
    stats = sandbox.stats()["token_endpoint"]
    assert stats["authorization_code"]["ok"] == 1
    after = restarted.report_rejection(recovered["generation"]).json()
    assert after["generation"] == generation + 1
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0


def test_an_older_file_never_rolls_redis_back(
    sandbox_factory: SandboxFactory, start_service: StartService, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey=sandbox.access_code())
    service = start_service(sandbox, path)
    generation = token(service)["generation"]
    stale = path.read_text()  # generation 1's refresh token, soon spent
    generation = service.report_rejection(generation).json()["generation"]
    service.stop()

    path.write_text(stale)  # someone restores an old backup of the file
    restarted = start_service(sandbox, path)
    # Redis still has state, so the file is not read: the newer credential stays
    assert token(restarted)["generation"] == generation
    assert restarted.report_rejection(generation).json()["generation"] == generation + 1
    assert sandbox.stats()["token_endpoint"]["refresh_token"]["rejected"] == 0
    wait_until(
        lambda: read_settings(path)["TokenState"]["Generation"] == generation + 1,
        timeout=5,
        what="the file caught up with Redis",
    )
