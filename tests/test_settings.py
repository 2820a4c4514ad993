"""The configuration layer every service shares (service_common/settings.py): one error type
naming the variable, bounds on numbers, empty meaning the default, `_FILE` variants of
secrets, secrets never in an error, and entry points that exit 78 with one line."""

from __future__ import annotations

import base64
import doctest
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

import service_common.settings_errors
from api.settings import ApiSettings
from service_common.configuration_error import EX_CONFIG, ConfigurationError
from service_common.rate_limit import RateLimitSettings
from service_common.secret_files import FILE_SUFFIX, is_secret, variable_name
from service_common.settings import ServiceSettings
from tests.support.processes import REPO_ROOT
from token_service.config import Settings as TokenServiceSettings
from token_service.config import TokenCallSettings
from token_service.encryption_settings import EncryptionSettings
from worker.settings import WorkerSettings

API_KEY = "erp:0123456789abcdef0123"
ONE_KEY = base64.b64encode(b"k" * 32).decode()
MODELS: tuple[type[ServiceSettings], ...] = (
    ApiSettings,
    WorkerSettings,
    TokenServiceSettings,
    TokenCallSettings,
    EncryptionSettings,
    RateLimitSettings,
)
Reader = Callable[[Mapping[str, str]], object]


def api(env: Mapping[str, str]) -> ApiSettings:
    return ApiSettings.from_env({"EXPORTER_API_KEYS": API_KEY, **env})


def worker(env: Mapping[str, str]) -> WorkerSettings:
    return WorkerSettings.from_env(env)


def token_service(env: Mapping[str, str]) -> TokenServiceSettings:
    return TokenServiceSettings.from_env(env)


def refused(read: Reader, env: Mapping[str, str]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        read(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(service_common.settings_errors).failed == 0


# --- one error type, naming the variable ---------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "variable", "value", "rule"),
    [
        (api, "API_THREADS", "abc", "valid integer"),
        (api, "API_THREADS", "0", "greater than or equal to 1"),
        (api, "API_THREADS", "1001", "less than or equal to 1000"),
        (api, "API_THREADS", "1.5", "valid integer"),
        (api, "REVIZTO_RATE_LIMIT_RPS", "fast", "valid number"),
        (api, "REVIZTO_RATE_LIMIT_BURST", "0", "greater than or equal to 1"),
        (api, "EXPORT_DOWNLOAD_MODE", "stream", "redirect or proxy"),
        (api, "EXPORT_STORAGE_URL", "gs://bucket", "file:// or s3://"),
        (api, "EXPORT_WEBHOOK_ALLOWED_HOSTS", "host:port", "host:port"),
        (worker, "EXPORT_COMMENT_CONCURRENCY", "0", "greater than or equal to 1"),
        (worker, "EXPORT_STALL_SECONDS", "inf", "finite"),
        (worker, "EXPORT_RETENTION_DAYS", "-1", "greater than 0"),
        (worker, "EXPORT_S3_PART_BYTES", "8M", "valid integer"),
        (worker, "REVIZTO_RATE_LIMIT_RPS", "-1", "greater than or equal to 0"),
        (token_service, "TOKEN_SERVICE_THREADS", "many", "valid integer"),
        (token_service, "TOKEN_SERVICE_THREADS", "0", "greater than or equal to 1"),
        (token_service, "TOKEN_KEEPALIVE_SECONDS", "-1", "greater than or equal to 0"),
        (token_service, "TOKEN_LOCK_LEASE_SECONDS", "0", "greater than 0"),
        (token_service, "TOKEN_REFRESH_FAILING_ATTEMPTS", "11", "less than or equal to 10"),
        (token_service, "REVIZTO_TOKEN_CONNECT_TIMEOUT", "nan", "finite"),
    ],
)
def test_a_bad_value_is_a_configuration_error_naming_the_variable_and_the_rule(
    read: Reader, variable: str, value: str, rule: str
) -> None:
    message = refused(read, {variable: value})
    assert message.startswith(variable), message
    assert rule in message
    assert f"'{value.split(':')[0]}" in message  # not a secret: shown, to spot the typo


def test_every_problem_is_reported_at_once() -> None:
    message = refused(api, {"API_THREADS": "0", "EXPORT_STORAGE_URL": "gs://b"})
    assert "API_THREADS" in message
    assert "EXPORT_STORAGE_URL" in message


def test_a_missing_required_secret_is_named() -> None:
    assert refused(ApiSettings.from_env, {}) == "EXPORTER_API_KEYS is required"


def test_old_encryption_keys_need_a_current_one() -> None:
    message = refused(token_service, {"TOKEN_ENCRYPTION_OLD_KEYS": ONE_KEY})
    assert message == "TOKEN_ENCRYPTION_OLD_KEYS needs TOKEN_ENCRYPTION_KEY as well"
    assert ONE_KEY not in message


def test_the_token_services_cross_checks_are_configuration_errors_too() -> None:
    settings = token_service({"TOKEN_SERVICE_SECRET": "s" * 24, "TOKEN_LOCK_LEASE_SECONDS": "5"})
    with pytest.raises(ConfigurationError, match="TOKEN_LOCK_LEASE_SECONDS"):
        settings.check()
    with pytest.raises(ConfigurationError, match="TOKEN_SERVICE_SECRET is required"):
        token_service({}).check()


# --- defaults ----------------------------------------------------------------------------------


def test_an_empty_variable_means_the_default() -> None:
    every_variable_empty = {
        variable_name(name, field): ""
        for model in MODELS
        for name, field in model.model_fields.items()
        if isinstance(field.validation_alias, str)
    }
    assert every_variable_empty, "the models declare their variables"
    api_settings = api({**every_variable_empty, "EXPORTER_API_KEYS": API_KEY})
    assert (api_settings.threads, api_settings.download_mode) == (16, "proxy")
    assert api_settings.databases == frozenset({"local"})
    assert api_settings.rate_limit == RateLimitSettings()
    assert not api_settings.webhooks_enabled
    assert worker(every_variable_empty) == WorkerSettings()
    token = token_service(every_variable_empty)
    assert (token.threads, token.keepalive, token.sealer.enabled) == (16, 6 * 3600.0, False)


def test_values_are_parsed_into_what_the_services_use(tmp_path: Path) -> None:
    settings = api(
        {
            "API_THREADS": "8",
            "EXPORT_STORAGE_URL": "s3://bucket/prefix",
            "EXPORT_DATABASES": '{"warehouse": "postgresql+psycopg://u:p@db/w"}',
            "EXPORT_WEBHOOK_ALLOWED_HOSTS": "hooks.example.com",
            "EXPORT_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "REVIZTO_RATE_LIMIT_RPS": " 2.5 ",
        }
    )
    assert settings.threads == 8
    assert settings.download_mode == "redirect"  # the default with object storage
    assert settings.databases == frozenset({"warehouse"})
    assert settings.webhook_policy.allows("https://hooks.example.com/x")
    assert settings.webhooks_enabled
    assert settings.rate_limit == RateLimitSettings(rate=2.5, burst=5)
    hosts = token_service({"REVIZTO_PLAIN_HTTP_HOSTS": " Sandbox, ,127.0.0.1"})
    assert hosts.plain_http_hosts == frozenset({"sandbox", "127.0.0.1"})
    assert worker({"EXPORT_DIR": str(tmp_path)}).databases() == {
        "local": f"sqlite:///{tmp_path / 'revizto.sqlite3'}"
    }


def test_constructing_settings_reads_no_environment_and_from_env_reads_os_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXPORT_STALL_SECONDS", "8")
    assert WorkerSettings().stall_seconds == 120
    assert WorkerSettings.from_env().stall_seconds == 8
    assert WorkerSettings.from_env({}).stall_seconds == 120


# --- secrets as files ----------------------------------------------------------------------------


def test_every_secret_of_the_issue_has_a_file_variant() -> None:
    secrets = {
        variable_name(name, field)
        for model in MODELS
        for name, field in model.model_fields.items()
        if is_secret(field)
    }
    assert secrets == {
        "TOKEN_SERVICE_SECRET",
        "EXPORTER_API_KEYS",
        "EXPORT_WEBHOOK_SECRET",
        "EXPORT_DATABASES",
        "TOKEN_ENCRYPTION_KEY",
        "TOKEN_ENCRYPTION_OLD_KEYS",
    }


def test_a_secret_is_read_from_its_file_less_one_trailing_newline(tmp_path: Path) -> None:
    keys = tmp_path / "exporter_api_keys"
    keys.write_text(API_KEY + "\n")
    settings = ApiSettings.from_env({"EXPORTER_API_KEYS_FILE": str(keys)})
    assert settings.keys.identify("0123456789abcdef0123") is not None

    secret = tmp_path / "token_service_secret"
    secret.write_text("two-newlines\n\n")
    read = worker({"TOKEN_SERVICE_SECRET_FILE": str(secret)}).token_service_secret
    assert read.get_secret_value() == "two-newlines\n"  # only one is the file's ending
    secret.write_text("windows\r\n")
    read = worker({"TOKEN_SERVICE_SECRET_FILE": str(secret)}).token_service_secret
    assert read.get_secret_value() == "windows"


def test_the_encryption_key_file_is_one_more_secret_file(tmp_path: Path) -> None:
    key = tmp_path / "token_encryption_key"
    key.write_text(ONE_KEY + "\n")
    old = tmp_path / "token_encryption_old_keys"
    old.write_text(base64.b64encode(b"o" * 32).decode())
    sealer = token_service(
        {"TOKEN_ENCRYPTION_KEY_FILE": str(key), "TOKEN_ENCRYPTION_OLD_KEYS_FILE": str(old)}
    ).sealer
    assert sealer.enabled
    assert sealer.open(sealer.seal("a token")) == "a token"


def test_an_empty_secret_file_means_the_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    assert not worker({"EXPORT_WEBHOOK_SECRET_FILE": str(empty)}).webhook_secret


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-the-file-xyz")
    message = refused(
        worker,
        {"TOKEN_SERVICE_SECRET": "from-the-variable-xyz", "TOKEN_SERVICE_SECRET_FILE": str(secret)},
    )
    assert "TOKEN_SERVICE_SECRET and TOKEN_SERVICE_SECRET_FILE" in message
    assert "xyz" not in message


@pytest.mark.parametrize("problem", ["missing", "directory", "not utf-8"])
def test_an_unreadable_secret_file_is_named_without_its_content(
    tmp_path: Path, problem: str
) -> None:
    path = tmp_path / "secret"
    if problem == "directory":
        path.mkdir()
    elif problem == "not utf-8":
        path.write_bytes(b"\xffsecret-bytes")
    message = refused(api, {"EXPORT_WEBHOOK_SECRET_FILE": str(path)})
    assert message.startswith(f"cannot read EXPORT_WEBHOOK_SECRET_FILE {path}") or (
        message == f"EXPORT_WEBHOOK_SECRET_FILE {path} is not UTF-8 text"
    )
    assert "secret-bytes" not in message
    assert "xff" not in message


# --- secrets never in an error -------------------------------------------------------------------


SECRET_TEXT = "hunter2-do-not-show"


@pytest.mark.parametrize(
    ("read", "variable", "value"),
    [
        (api, "EXPORT_WEBHOOK_SECRET", f"whsec-{SECRET_TEXT}"),
        (ApiSettings.from_env, "EXPORTER_API_KEYS", f"erp:{SECRET_TEXT[:10]}"),
        (worker, "EXPORT_DATABASES", f'{{"db": "not a url {SECRET_TEXT}"}}'),
        (worker, "EXPORT_DATABASES", f'{{"db": "postgresql://u:{SECRET_TEXT}@h/d", "!": 1}}'),
        (token_service, "TOKEN_ENCRYPTION_KEY", base64.b64encode(SECRET_TEXT.encode()).decode()),
        (token_service, "TOKEN_ENCRYPTION_OLD_KEYS", f"{ONE_KEY},{SECRET_TEXT}"),
    ],
)
def test_a_bad_secret_is_named_but_never_shown(
    read: Reader, variable: str, value: str, tmp_path: Path
) -> None:
    env = {variable: value, "TOKEN_ENCRYPTION_KEY": ONE_KEY}
    if variable == "TOKEN_ENCRYPTION_KEY":
        env = {variable: value}
    message = refused(read, env)
    assert variable in message
    for shown in (value, SECRET_TEXT, SECRET_TEXT[:10], value[:12]):
        assert shown not in message, message
    # The same value from its file: the message says where it came from, still not what.
    secret_file = tmp_path / "secret"
    secret_file.write_text(value)
    env = {k: v for k, v in env.items() if k != variable}
    from_file = refused(read, {**env, variable + FILE_SUFFIX: str(secret_file)})
    assert f"(read from {variable}{FILE_SUFFIX})" in from_file
    assert SECRET_TEXT not in from_file


def test_settings_never_show_secrets_in_their_repr() -> None:
    database = f'{{"d": "sqlite:///{SECRET_TEXT}"}}'
    every_secret = {"TOKEN_SERVICE_SECRET": SECRET_TEXT, "EXPORT_DATABASES": database}
    readers: tuple[Reader, ...] = (api, worker, token_service)
    shown = " ".join(repr(read(every_secret)) for read in readers)
    assert "0123456789abcdef0123" not in shown
    assert SECRET_TEXT not in shown


# --- entry points: one line, exit 78 -----------------------------------------------------------


def service_environment(**settings: str) -> dict[str, str]:
    """The test process's environment without any variable a service reads, plus `settings`."""
    ours = {
        variable_name(name, field) + suffix
        for model in MODELS
        for name, field in model.model_fields.items()
        for suffix in ("", FILE_SUFFIX)
    }
    return {**{k: v for k, v in os.environ.items() if k not in ours}, **settings}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_line_and_78(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == EX_CONFIG, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("configuration error: "), line
    for text in expected:
        assert text in line
    return line


@pytest.mark.slow
def test_the_api_exits_78_with_one_line_naming_the_variable() -> None:
    done = run(
        [sys.executable, "-m", "api"],
        service_environment(EXPORTER_API_KEYS=API_KEY, API_THREADS="0"),
    )
    line = assert_one_line_and_78(done, "API_THREADS")
    assert line == (
        "configuration error: API_THREADS: input should be greater than or equal to 1, got '0'"
    )
    short_key = f"erp:{SECRET_TEXT[:12]}"
    done = run([sys.executable, "-m", "api"], service_environment(EXPORTER_API_KEYS=short_key))
    assert_one_line_and_78(done, "EXPORTER_API_KEYS", "at least 16 characters")
    assert SECRET_TEXT[:12] not in done.stderr


@pytest.mark.slow
def test_the_token_service_exits_78_for_an_unreadable_or_doubled_secret(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    done = run(
        [sys.executable, "-m", "token_service", "status"],
        service_environment(TOKEN_SERVICE_SECRET_FILE=str(missing)),
    )
    assert_one_line_and_78(done, f"cannot read TOKEN_SERVICE_SECRET_FILE {missing}")
    secret = tmp_path / "secret"
    secret.write_text(SECRET_TEXT)
    done = run(
        [sys.executable, "-m", "token_service", "status"],
        service_environment(
            TOKEN_SERVICE_SECRET=SECRET_TEXT, TOKEN_SERVICE_SECRET_FILE=str(secret)
        ),
    )
    assert_one_line_and_78(done, "TOKEN_SERVICE_SECRET and TOKEN_SERVICE_SECRET_FILE")
    assert SECRET_TEXT not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("program", ["worker", "beat"])
def test_celery_worker_and_beat_exit_78_with_one_line(program: str) -> None:
    celery = str(Path(sys.executable).parent / "celery")
    done = run(
        [celery, "-A", "worker.celery_app", program, "--loglevel", "INFO"],
        service_environment(EXPORT_STALL_SECONDS="soon"),
    )
    assert_one_line_and_78(done, "EXPORT_STALL_SECONDS", "valid number", "'soon'")


def test_the_demo_credentials_script_reads_the_secret_file_as_the_services_do(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location(
        "demo_credentials", REPO_ROOT / "docker" / "demo_credentials.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    secret = tmp_path / "token_service_secret"
    secret.write_text("from-the-file\n")
    env = {"TOKEN_SERVICE_SECRET_FILE": str(secret)}
    assert script.token_service_secret(env) == "from-the-file"
    assert worker(env).token_service_secret.get_secret_value() == "from-the-file"
    assert script.token_service_secret({"TOKEN_SERVICE_SECRET": "plain"}) == "plain"
