"""LOG_FORMAT=json: one JSON object per line from every service, Celery's own lines
included, and masking still in front of it (service_common/redaction.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from service_common.logging import EX_CONFIG, RedactingJsonFormatter, formatter
from service_common.redaction import MASK, SecretRegistry, install_masking
from tests.support.exporter import StartStack
from tests.support.processes import REPO_ROOT
from tests.support.sandbox import SandboxFactory
from tests.support.token_service import StartService, token
from tests.support.waiting import wait_until

OPAQUE = "an-opaque-token-with-no-recognisable-shape"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDAuNX0.c2lnbmF0dXJl"
# JSON writes a quote as \\" and a backslash as \\\\: masking only the finished line would
# no longer find this value.
ESCAPED_IN_JSON = 'a"token\\with-characters-json-escapes'


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, SecretRegistry]]:
    """A logger writing LOG_FORMAT=json, masked as the services install it."""
    registry = SecretRegistry()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    assert isinstance(formatter("json"), RedactingJsonFormatter)  # what LOG_FORMAT=json uses
    handler.setFormatter(RedactingJsonFormatter(registry))
    log = logging.getLogger("tests.json")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    install_masking(log, registry)
    yield log, stream, registry
    log.handlers.clear()


def records(text: str) -> list[dict[str, Any]]:
    """Every line as JSON; a line that is not fails the test, quoted."""
    parsed = []
    for line in text.splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line!r}")
    return parsed


def test_a_record_is_one_json_line_with_utc_timestamp_level_logger_message_and_extras(
    logger: tuple[logging.Logger, io.StringIO, SecretRegistry],
) -> None:
    log, stream, _ = logger
    log.warning("job finished job=%s", "j1", extra={"job_id": "j1", "records": 12})
    (record,) = records(stream.getvalue())
    assert list(record)[:4] == ["timestamp", "level", "logger", "message"]
    assert record["level"] == "WARNING"
    assert record["logger"] == "tests.json"
    assert record["message"] == "job finished job=j1"
    assert (record["job_id"], record["records"]) == ("j1", 12)
    assert record["timestamp"].endswith("Z")
    stamp = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_secrets_are_masked_in_the_message_extras_and_traceback(
    logger: tuple[logging.Logger, io.StringIO, SecretRegistry],
) -> None:
    log, stream, registry = logger
    registry.register(OPAQUE, ESCAPED_IN_JSON)
    log.info("refreshed %s", OPAQUE, extra={"reply": {"access_token": JWT, "n": 1}})
    log.info("upstream said %s", ESCAPED_IN_JSON)
    try:
        raise RuntimeError(f"Revizto refused refresh_token={OPAQUE}")
    except RuntimeError:
        log.exception("refresh failed")
    text = stream.getvalue()
    parsed = records(text)
    assert len(parsed) == 3
    for secret in (OPAQUE, JWT, ESCAPED_IN_JSON, json.dumps(ESCAPED_IN_JSON)[1:-1]):
        assert secret not in text
    assert parsed[0]["message"] == f"refreshed {MASK}"
    assert parsed[0]["reply"] == {"access_token": MASK, "n": 1}
    assert parsed[1]["message"] == f"upstream said {MASK}"
    assert "RuntimeError" in parsed[2]["exc_info"]


SERVICES = {
    "api": [sys.executable, "-m", "api"],
    "token_service": [sys.executable, "-m", "token_service"],
    "worker": [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker"],
    "beat": [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat"],
}


@pytest.mark.parametrize(
    ("service", "variable", "value", "message"),
    [
        *[
            (service, "LOG_FORMAT", "xml", "LOG_FORMAT must be one of text, json, not 'xml'")
            for service in SERVICES
        ],
        # Workers and beat take Celery's --loglevel instead.
        *[
            (service, "LOG_LEVEL", "verbose", "LOG_LEVEL must be one of DEBUG, INFO")
            for service in ("api", "token_service")
        ],
    ],
)
def test_a_bad_logging_setting_stops_the_service_with_a_configuration_error(
    service: str, variable: str, value: str, message: str
) -> None:
    done = subprocess.run(
        SERVICES[service],
        cwd=REPO_ROOT,
        env={**os.environ, variable: value, "REDIS_URL": "redis://127.0.0.1:9/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EX_CONFIG, done.stderr[-2000:]
    assert f"configuration error: {message}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_token_service_logs_json_lines(
    sandbox_factory: SandboxFactory, start_service: StartService
) -> None:
    """The start_service fixture also fails the test if any token the sandbox issued was
    logged (it is set up after the sandbox, so it checks before the sandbox stops)."""
    service = start_service(sandbox_factory(), LOG_FORMAT="json")
    token(service)
    parsed = records(service.log())
    assert parsed, "the token service logged nothing"
    assert {"timestamp", "level", "logger", "message"} <= set(parsed[0])
    assert any(r["logger"].startswith("token_service") for r in parsed)


@pytest.mark.slow
def test_every_service_of_an_export_logs_json_lines_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
    sandbox_factory: SandboxFactory,
    exporter_factory: StartStack,
) -> None:
    """Sandbox, token service, API, a worker (Celery's lines included) and beat. The
    exporter fixture also fails the test if any token the sandbox issued was logged."""
    monkeypatch.setenv("LOG_FORMAT", "json")  # inherited by every process started below
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    stack = exporter_factory(sandbox, workers=1, beat=True)
    job = stack.wait_finished(stack.submit()["id"], timeout=90)
    assert job["state"] == "succeeded", job["error"]
    beat = stack.beat
    assert beat is not None
    wait_until(lambda: "beat: Starting" in beat.output(), timeout=60, what="beat started")
    # Read while they run: a stopping Celery prints its shutdown notice on stdout.
    logs = {
        "sandbox": sandbox.process.output(),
        "token_service": stack.token_service.log(),
        "api": stack.api.output(),
        "worker": stack.workers[0].log(),
        "beat": beat.output(),
    }
    known_secrets = [stack.env["TOKEN_SERVICE_SECRET"], stack.api_key, stack.admin_key]
    for name, text in logs.items():
        parsed = records(text)
        assert parsed, f"{name} logged nothing"
        for secret in known_secrets:
            assert secret not in text, f"{name} logged a secret"
    worker = records(logs["worker"])
    celery_lines = [r for r in worker if r["logger"].startswith("celery")]
    assert any(r["message"].endswith("ready.") for r in celery_lines), celery_lines[:5]
    # Celery's task lines, and ours from inside a task, carry the task's id.
    assert any("task_id" in r for r in worker)
    assert any(r["logger"].startswith("celery") for r in records(logs["beat"]))
