"""Encryption at rest, with real processes, Redis and files: tokens sealed in Redis and
appsettings.json, a plaintext deployment migrated, a key rotated, and a wrong or missing
key refused at start-up with nothing overwritten."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import redis

from tests.support.sandbox import SandboxFactory, SandboxProcess, issued_secrets
from tests.support.token_service import (
    StartService,
    TokenServiceProcess,
    run_token_service,
    token,
)
from token_service.sealing import key_id

STATE_KEY = "rxp:token:state"


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def kid(key: str) -> str:
    return key_id(base64.b64decode(key))


def stored_tokens(redis_url: str) -> dict[str, str]:
    raw = redis.Redis.from_url(redis_url, decode_responses=True).hgetall(STATE_KEY)
    return {name: raw[name] for name in ("access_token", "refresh_token")}


def file_tokens(path: Path) -> dict[str, str]:
    section = json.loads(path.read_text())["ReviztoAPI"]
    return {name: section[name] for name in ("AccessToken", "RefreshToken")}


def sealed_by(values: dict[str, str], key: str) -> bool:
    return all(value.startswith(f"enc:v1:{kid(key)}:") for value in values.values())


def run_status(service: TokenServiceProcess, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m token_service status` with this service's settings and `env` on top."""
    return run_token_service({**service.env, **env}, "status")


def assert_no_plaintext(sandbox: SandboxProcess, redis_url: str, path: Path) -> None:
    at_rest = json.dumps(stored_tokens(redis_url)) + path.read_text()
    for secret in issued_secrets(sandbox):
        assert secret not in at_rest


def test_with_a_key_tokens_are_sealed_in_redis_and_the_file_and_still_work(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    key = new_key()
    service = start_service(sandbox, TOKEN_ENCRYPTION_KEY=key)
    first = token(service)
    rotated = service.report_rejection(first["generation"]).json()
    path = tmp_path / "appsettings.json"

    assert sealed_by(stored_tokens(redis_url), key)
    assert sealed_by(file_tokens(path), key)
    assert_no_plaintext(sandbox, redis_url, path)
    assert sandbox.get("/v5/user", rotated["access_token"]).status_code == 200
    assert "TOKEN_ENCRYPTION_KEY is not set" not in service.log()


def test_a_plaintext_deployment_is_sealed_when_a_key_is_set_and_a_wrong_key_is_refused(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    plain = start_service(sandbox)
    generation = token(plain)["generation"]
    path = tmp_path / "appsettings.json"
    assert not file_tokens(path)["RefreshToken"].startswith("enc:")
    assert plain.log().count("TOKEN_ENCRYPTION_KEY is not set") == 1
    plain.stop()

    # Restarted with a key: what was plaintext is read, then sealed in both places
    key = new_key()
    sealed = start_service(sandbox, TOKEN_ENCRYPTION_KEY=key)
    assert token(sealed)["generation"] == generation
    assert sealed_by(stored_tokens(redis_url), key)
    assert sealed_by(file_tokens(path), key)
    assert_no_plaintext(sandbox, redis_url, path)

    # A wrong key, or none: a clear start-up error, and nothing overwritten
    before_file, before_redis = path.read_bytes(), stored_tokens(redis_url)
    wrong = run_status(sealed, TOKEN_ENCRYPTION_KEY=new_key())
    assert wrong.returncode == 78
    assert f"key id {kid(key)}" in wrong.stderr
    assert "TOKEN_ENCRYPTION_OLD_KEYS" in wrong.stderr
    missing = run_status(sealed, TOKEN_ENCRYPTION_KEY="")
    assert missing.returncode == 78
    assert "set TOKEN_ENCRYPTION_KEY" in missing.stderr
    assert (path.read_bytes(), stored_tokens(redis_url)) == (before_file, before_redis)


def test_a_rotated_key_opens_old_tokens_and_seals_new_ones(
    sandbox_factory: SandboxFactory, start_service: StartService, redis_url: str, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    old = new_key()
    first = start_service(sandbox, TOKEN_ENCRYPTION_KEY=old)
    generation = token(first)["generation"]
    first.stop()

    key_file = tmp_path / "token-key"
    current = new_key()
    key_file.write_text(current + "\n")
    second = start_service(
        sandbox, TOKEN_ENCRYPTION_KEY_FILE=str(key_file), TOKEN_ENCRYPTION_OLD_KEYS=old
    )
    assert token(second)["generation"] == generation
    assert sealed_by(stored_tokens(redis_url), current)
    rotated = second.report_rejection(generation)
    assert rotated.status_code == 200, rotated.text
    assert sealed_by(file_tokens(tmp_path / "appsettings.json"), current)


def test_a_malformed_key_is_refused_without_showing_it(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    service = start_service(sandbox)
    short = base64.b64encode(b"sixteen byte key").decode()
    done = run_status(service, TOKEN_ENCRYPTION_KEY=short)
    assert done.returncode == 78
    assert "must be 32 bytes" in done.stderr
    assert short not in done.stderr
