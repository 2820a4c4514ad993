"""docker-compose.yml and .env.example, checked without a Docker engine: every command,
health check, variable, port, mount and secret is compared with the code it starts."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.__main__ import build_parser as alerting_parser
from alerting.settings import AlertSettings
from api.settings import ApiSettings
from demo.__main__ import argument_parser as demo_argument_parser
from service_common.configuration_error import ConfigurationError
from service_common.wsgi import parse_bind
from tests.support.processes import REPO_ROOT
from token_service.config import Settings as TokenServiceSettings
from worker.settings import WorkerSettings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
PROMETHEUS_CONFIG = REPO_ROOT / "monitoring" / "prometheus" / "prometheus.yml"
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"

EXPORTER_SERVICES = ("token_service", "api", "worker")
# Runs the image but serves nothing: Celery beat, the scheduler of periodic work.
SCHEDULER = "beat"
DEMO_SERVICES = ("sandbox", "demo_credentials", "demo")
# Profile ops: Flower, the Celery dashboard.
FLOWER = "flower"
# Runs the image once per `up`: renders Alertmanager's configuration, then exits.
RENDERER = "alertmanager_config"
# .env's secrets -> the compose secret (a file in /run/secrets) that carries each.
SECRETS = {"TOKEN_SERVICE_SECRET": "token_service_secret", "EXPORTER_API_KEYS": "exporter_api_keys"}
# Who may read each: the services that need it and nothing else.
SECRET_USERS = {
    "token_service_secret": {"token_service", "api", "worker", "demo_credentials"},
    "exporter_api_keys": {"api", "demo"},
}
RUN_SECRETS = "/run/secrets/"
# Where each service listens inside its container (the contract the checks compare with).
SERVICE_PORTS = {
    "api": 8080, "token_service": 8081, "worker": 9808, "sandbox": 8090, FLOWER: 5555
}  # fmt: skip
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what a container must listen on)
PUBLISHED = {
    "api": 8080, "prometheus": 9090, "grafana": 3000, "alertmanager": 9093, FLOWER: 5555
}  # fmt: skip
# Read by a library a service runs rather than by our code: name -> the library.
THIRD_PARTY_VARIABLES = {"REMAP_SIGTERM": "billiard"}
# What compose needs from .env in a real deployment (no demo block).
REAL_DEPLOYMENT_ENV = {
    "TOKEN_SERVICE_SECRET": "a-real-secret-of-sufficient-length",
    "EXPORTER_API_KEYS": "first-real-api-key-0001,second-real-api-key-0002",
    "GRAFANA_ADMIN_PASSWORD": "a-real-grafana-password",
}

# Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, ${VAR:+replacement}, ${VAR+replacement}.
_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is not set: compose would refuse to start."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` as compose would see it with `env` as the .env file and nothing else.

    >>> interpolate("${A:-x}:$${B}:${C:+on}", {"C": "1"})
    'x:${B}:on'
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        is_set = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return value if is_set and value is not None else arg
        if op in (":?", "?"):
            if not is_set or value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return arg if is_set else ""
        return value or ""

    return _REFERENCE.sub(substitute, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    return node


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)


def referenced_variables(node: Any) -> set[str]:
    return {
        m.group("name") or m.group("bare")
        for text in strings(node)
        for m in _REFERENCE.finditer(text)
        if not m.group("escaped")
    }


def env_file(path: Path) -> dict[str, str]:
    """The assignments of a .env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def argv(command: Any) -> list[str]:
    """A compose `command` as argv; `sh -c "... exec ..."` is unwrapped to what it execs."""
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if args[:2] == ["sh", "-c"]:
        inner = shlex.split(args[2])
        return inner[inner.index("exec") + 1 :] if "exec" in inner else inner
    return args


def port_of(url: str) -> int:
    match = re.match(r"https?://[^/:]+:(\d+)", url)
    assert match, f"no explicit port in {url!r}"
    return int(match.group(1))


def seconds(duration: str) -> float:
    """Compose durations: '90s', '1m30s', '2m'."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", duration)
    assert duration, "empty duration"
    assert parts, f"not a duration: {duration!r}"
    h, m, s, ms = (int(p or 0) for p in parts.groups())
    return h * 3600 + m * 60 + s + ms / 1000


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    """.env as `cp .env.example .env` makes it."""
    return env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any], demo_env: dict[str, str]) -> dict[str, Any]:
    """The compose model a fresh copy of .env.example produces (the demo wiring)."""
    model: dict[str, Any] = interpolated(raw_compose, demo_env)
    return model


@pytest.fixture(scope="module")
def real(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The compose model of a real deployment: only the secrets in .env."""
    model: dict[str, Any] = interpolated(raw_compose, REAL_DEPLOYMENT_ENV)
    return model


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services that run this repository's image (built from the Dockerfile here)."""
    return {
        name: service
        for name, service in services.items()
        if isinstance(service.get("build"), dict) and service["build"].get("context") == "."
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: "" if value is None else str(value) for key, value in env.items()}


def container_environment(
    model: dict[str, Any], name: str, dot_env: Mapping[str, str], secrets_dir: Path
) -> dict[str, str]:
    """A service's environment as its process sees it: the compose secrets granted to it
    written to `secrets_dir` (where compose would mount /run/secrets) from the .env
    variables they are declared with, and the `*_FILE` variables pointed there."""
    service = model["services"][name]
    granted = service.get("secrets", [])
    for secret in granted:
        source = model["secrets"][secret]["environment"]
        if source in dot_env:  # else compose would refuse to create the service
            (secrets_dir / secret).write_text(dot_env[source])
    env = environment(service)
    for variable, value in env.items():
        if value.startswith(RUN_SECRETS):
            secret = value.removeprefix(RUN_SECRETS)
            assert secret in granted, f"{name}: {variable} names {secret}, not granted to it"
            env[variable] = str(secrets_dir / secret)
    return env


# --- shape: services and profiles -------------------------------------------------------------


def test_compose_file_parses_with_the_expected_services(services: dict[str, Any]) -> None:
    expected = {
        "redis", "prometheus", "grafana", "alertmanager", RENDERER, "test", SCHEDULER,
        *EXPORTER_SERVICES, *DEMO_SERVICES, FLOWER,
    }  # fmt: skip
    assert set(services) == expected


def test_demo_services_only_in_the_demo_profile_and_tests_only_in_the_test_profile(
    services: dict[str, dict[str, Any]],
) -> None:
    profiles = {name: service.get("profiles", []) for name, service in services.items()}
    for name in DEMO_SERVICES:
        assert profiles[name] == ["demo"], name
    assert profiles["test"] == ["test"]
    assert profiles[FLOWER] == ["ops"]
    always = ("redis", "prometheus", "grafana", "alertmanager", RENDERER, SCHEDULER)
    for name in (*always, *EXPORTER_SERVICES):
        assert profiles[name] == [], f"{name} must run without a profile"


def test_the_test_profile_runs_make_test_in_the_dockerfiles_test_stage(
    services: dict[str, dict[str, Any]],
) -> None:
    test = services["test"]
    assert test["build"]["target"] == "test"
    assert argv(test["command"]) == ["make", "test"]
    assert re.search(r"^test:", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)


# --- commands refer to real code ----------------------------------------------------------------


def packaged_top_levels() -> list[str]:
    """The include patterns of pyproject.toml: what `pip install .` puts in the image."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns: list[str] = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return patterns


def is_packaged(module: str) -> bool:
    top = module.split(".")[0]
    return any(
        re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), top) for p in packaged_top_levels()
    )


def python_modules(services: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for name, service in ours(services).items():
        args = argv(service["command"])
        if args[:2] == ["python", "-m"]:
            found.append((name, args[2]))
    return found


def test_every_python_module_command_has_a_main_and_is_installed_in_the_image(
    services: dict[str, dict[str, Any]],
) -> None:
    modules = python_modules(services)
    assert {name for name, _ in modules} >= {"token_service", "api", "sandbox", "demo"}
    for name, module in modules:
        assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
        assert importlib.util.find_spec(f"{module}.__main__") is not None, (
            f"{name}: `python -m {module}` needs {module}/__main__.py"
        )
        assert is_packaged(module), (
            f"{name}: {module} is not in pyproject's packages.find include, so the image "
            "(which installs the project with pip) would not contain it"
        )


def test_the_worker_runs_the_celery_app_in_exec_form(services: dict[str, dict[str, Any]]) -> None:
    command = services["worker"]["command"]
    assert isinstance(command, list), "exec form: Celery must be PID 1 to receive SIGTERM"
    assert command[:4] == ["celery", "-A", "worker.celery_app", "worker"]
    from celery import Celery

    assert isinstance(importlib.import_module(command[2]).app, Celery)
    help_text = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "worker", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in (arg for arg in command[4:] if arg.startswith("--")):
        assert flag in help_text, f"celery worker has no {flag}"


CELERY_APP = [str(Path(sys.executable).parent / "celery"), "-A", "worker.celery_app"]


def test_flower_runs_the_celery_app_behind_basic_auth_from_a_secret(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    from flower.command import is_flower_envvar
    from flower.options import default_options  # Flower's options are Tornado's

    flower = services[FLOWER]
    args = argv(flower["command"])
    assert args[:4] == ["celery", "-A", "worker.celery_app", "flower"]
    subprocess.run(
        [*CELERY_APP, "flower", "--help"], cwd=REPO_ROOT, capture_output=True, check=True
    )  # the plugin is installed and loads the app
    for flag in (arg.partition("=")[0] for arg in args[4:] if arg.startswith("--")):
        assert flag[2:].replace("-", "_") in default_options, f"celery flower has no {flag}"
    assert f"--port={SERVICE_PORTS[FLOWER]}" in args
    # The login is a compose secret (required: compose refuses Flower without it), never a
    # variable of the container; the shell hands the file's content to Flower.
    assert raw_compose["secrets"]["flower_basic_auth"] == {"environment": "FLOWER_BASIC_AUTH"}
    assert flower["secrets"] == ["flower_basic_auth"]
    assert "FLOWER_BASIC_AUTH" not in environment(flower)
    assert is_flower_envvar("FLOWER_BASIC_AUTH"), "Flower reads its basic auth from there"
    secret = tmp_path / "flower_basic_auth"
    secret.write_text("ops:a-flower-password")
    script = raw_compose["services"][FLOWER]["command"][2].replace("$$", "$")
    script = script.replace("/run/secrets/flower_basic_auth", str(secret))
    script = script.replace(" ".join(args), "printenv FLOWER_BASIC_AUTH")
    done = subprocess.run(
        ["sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ops:a-flower-password"


def test_the_workers_health_check_asks_about_the_broker_not_the_metrics(
    services: dict[str, dict[str, Any]],
) -> None:
    from worker.metrics_server import HEALTH_PATH

    url = services["worker"]["healthcheck"]["test"][4]
    assert urllib.parse.urlsplit(url).path == HEALTH_PATH


def test_log_format_is_passed_to_every_service_that_runs_our_code(
    raw_compose: dict[str, Any],
) -> None:
    for name in (*EXPORTER_SERVICES, SCHEDULER, "sandbox"):
        env = raw_compose["services"][name]["environment"]
        assert env["LOG_FORMAT"] == "${LOG_FORMAT:-}", name


def test_the_sandbox_command_is_accepted_by_its_parser(
    services: dict[str, dict[str, Any]],
) -> None:
    from sandbox.__main__ import build_parser, config_from_args

    args = argv(services["sandbox"]["command"])
    config = config_from_args(build_parser().parse_args(args[3:]))
    assert (config.host, config.port) == (ALL_INTERFACES, SERVICE_PORTS["sandbox"])


def test_the_demo_client_command_uses_flags_the_demo_has(
    services: dict[str, dict[str, Any]],
) -> None:
    args = argv(services["demo"]["command"])
    assert args[:3] == ["python", "-m", "demo"]
    help_text = subprocess.run(
        [sys.executable, "-m", "demo", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in (arg.split("=", 1)[0] for arg in args[3:] if arg.startswith("--")):
        assert flag in help_text, f"python -m demo has no {flag}"
    assert args[args.index("--api-url") + 1] == f"http://api:{SERVICE_PORTS['api']}"


def test_the_demo_client_gets_the_first_api_key_and_python_stays_pid_1(
    raw_compose: dict[str, Any], compose: dict[str, Any], demo_env: dict[str, str], tmp_path: Path
) -> None:
    shell = raw_compose["services"]["demo"]["command"]
    assert shell[:2] == ["sh", "-c"]
    assert shell[2].startswith("exec "), "without exec the shell would be PID 1"
    script = interpolate(shell[2], demo_env)
    # What the container's shell does with it, the keys in their secret file, and what the
    # demo's own parser makes of the arguments. The first key starts with "-", as one key
    # in 64 from secrets.token_urlsafe does: `--api-key -first…` would be a usage error.
    keys = "-first-key-of-sixteen-chars,second-key-of-sixteen"
    env = container_environment(compose, "demo", {"EXPORTER_API_KEYS": keys}, tmp_path)
    report_argv = f"exec {sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    done = subprocess.run(
        ["sh", "-c", script.replace("exec python -m demo", report_argv, 1)],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    args = demo_argument_parser().parse_args(json.loads(done.stdout))
    assert args.api_key == "-first-key-of-sixteen-chars"


def test_the_demo_credentials_script_is_mounted_from_this_repository(
    services: dict[str, dict[str, Any]],
) -> None:
    service = services["demo_credentials"]
    args = argv(service["command"])
    assert args[0] == "python"
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in service["volumes"])
    host = next(h for h, target in mounts.items() if target == args[1])
    assert (REPO_ROOT / host).is_file()
    assert all(volume.endswith(":ro") for volume in service["volumes"])


# --- health checks ------------------------------------------------------------------------------


def test_every_long_running_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    one_shot = {"demo", "demo_credentials", "test", RENDERER}
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name in one_shot:
            assert service.get("restart") == "no", name
            continue
        assert check.get("test"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_our_images_check_health_with_the_healthcheck_module_on_their_own_port(
    services: dict[str, dict[str, Any]],
) -> None:
    """The slim image has no curl or wget; the module must exist and the port must match."""
    assert importlib.util.find_spec("service_common.healthcheck") is not None
    for name, port in SERVICE_PORTS.items():
        test = services[name]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "service_common.healthcheck"], name
        assert port_of(test[4]) == port, name
        assert re.match(r"http://127\.0\.0\.1:", test[4]), "checked from inside the container"
    # Beat has no port: its module checks the liveness key it refreshes in Redis.
    assert services[SCHEDULER]["healthcheck"]["test"] == [
        "CMD", "python", "-m", "worker.beat_health"
    ]  # fmt: skip
    assert importlib.util.find_spec("worker.beat_health") is not None
    for name in ours(services).keys() - SERVICE_PORTS.keys() - {"test", SCHEDULER}:
        # One-shot containers: the image's default check (the API's) would report them sick.
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_redis_health_check_needs_a_pong_not_just_an_answer(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["redis"]["healthcheck"]["test"] == [
        "CMD-SHELL",
        "redis-cli ping | grep -q PONG",
    ]


def test_services_start_after_what_they_depend_on_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {
        "token_service": {"redis"},
        "api": {"redis", "token_service"},
        "worker": {"redis", "token_service"},
        "beat": {"redis"},
        FLOWER: {"redis"},
        "grafana": {"prometheus"},
        "demo_credentials": {"sandbox", "token_service"},
    }
    for name, needs in expected.items():
        depends = services[name]["depends_on"]
        assert set(depends) == needs, name
        for dependency in needs:
            assert depends[dependency]["condition"] == "service_healthy", (name, dependency)
    demo = services["demo"]["depends_on"]
    assert demo["demo_credentials"]["condition"] == "service_completed_successfully"
    # Alertmanager starts only on a configuration the renderer accepted.
    assert services["alertmanager"]["depends_on"] == {
        RENDERER: {"condition": "service_completed_successfully"}
    }
    assert {demo["api"]["condition"], demo["worker"]["condition"]} == {"service_healthy"}


# --- environment variables ----------------------------------------------------------------------


def code_files(service: dict[str, Any]) -> list[Path]:
    """The Python source a service runs: its command's package plus the shared packages."""
    args = argv(service["command"])
    if args[:2] in (["python", "-m"], ["celery", "-A"]):
        package = args[2].split(".")[0]
    elif args[0] == "python" and args[1].endswith(".py"):
        return [REPO_ROOT / "docker" / Path(args[1]).name]
    else:
        return []
    return [
        path
        for directory in {package, "service_common", "revizto"}
        for path in (REPO_ROOT / directory).rglob("*.py")
    ]


def reads(files: list[Path], name: str) -> bool:
    return any(re.search(rf"[\"']{name}[\"']", path.read_text()) for path in files)


def library_reads(library: str, name: str) -> bool:
    spec = importlib.util.find_spec(library)
    assert spec is not None, f"{library} is not installed"
    assert spec.origin is not None
    return reads(list(Path(spec.origin).parent.rglob("*.py")), name)


def architecture_table() -> dict[str, set[str]]:
    """docs/architecture.md's table of the variables compose sets: name -> the services it
    names (`all`: every service that runs our code, beat included).

    Only rows of the form "| `NAME` | users |" count; the document's second table, of
    variables compose leaves at their defaults, has another first column on purpose."""
    assert ARCHITECTURE.is_file(), f"{ARCHITECTURE.relative_to(REPO_ROOT)} is missing"
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", ARCHITECTURE.read_text(), re.MULTILINE)
    assert rows, "docs/architecture.md has no variable table"
    known = {*EXPORTER_SERVICES, SCHEDULER, RENDERER}
    table = {}
    for name, users in rows:
        listed = {user.strip() for user in users.split(",")}
        table[name] = known - {RENDERER} if "all" in listed else listed
        assert table[name] <= known, f"{name}: unknown service in {sorted(listed)}"
    return table


def test_every_variable_compose_sets_for_our_services_is_read_by_their_code(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    table = architecture_table()
    for name, service in ours(services).items():
        files = code_files(service)
        command = " ".join(strings(raw_compose["services"][name]["command"]))
        for variable in environment(service):
            library = THIRD_PARTY_VARIABLES.get(variable)
            assert (
                reads(files, variable)
                or f"${{{variable}" in command  # used by the service's own shell command
                or (library is not None and library_reads(library, variable))
                or name in table.get(variable, set())
            ), f"{name} is given {variable}, but nothing it runs reads it"


def test_every_variable_the_architecture_lists_for_a_service_is_set_for_it(
    services: dict[str, dict[str, Any]],
) -> None:
    for variable, users in architecture_table().items():
        for name in users:
            assert variable in environment(services[name]), f"{name} needs {variable}"


def test_each_service_accepts_its_compose_environment(
    compose: dict[str, Any], demo_env: dict[str, str], real: dict[str, Any], tmp_path: Path
) -> None:
    """The settings parsers of the services, fed what compose gives them (demo and real),
    secrets included: from .env through the secret files to the settings."""
    deployments = (("demo", compose, demo_env), ("real", real, REAL_DEPLOYMENT_ENV))
    for label, model, dot_env in deployments:
        secrets_dir = tmp_path / label
        secrets_dir.mkdir()
        envs = {
            name: container_environment(model, name, dot_env, secrets_dir)
            for name in EXPORTER_SERVICES
        }
        token_settings = TokenServiceSettings.from_env(envs["token_service"])
        token_settings.check()
        assert token_settings.appsettings_path == Path("/app/config/appsettings.json")
        api = ApiSettings.from_env(envs["api"])
        first_key = dot_env["EXPORTER_API_KEYS"].split(",")[0]
        assert api.keys.identify(first_key) is not None
        worker = WorkerSettings.from_env(envs["worker"])
        secret = token_settings.secret.get_secret_value()
        assert secret == dot_env["TOKEN_SERVICE_SECRET"]
        assert worker.token_service_secret.get_secret_value() == secret
        assert api.token_service_secret.get_secret_value() == secret
        assert worker.export_dir == api.export_dir
        for bind in (token_settings.bind, api.bind, worker.metrics_bind):
            assert parse_bind(bind)[0] == ALL_INTERFACES, "in a container, loopback is unreachable"


def test_the_worker_shuts_down_within_docker_grace_period(
    services: dict[str, dict[str, Any]],
) -> None:
    from worker.celery_app import SOFT_SHUTDOWN_SECONDS, app

    worker = services["worker"]
    assert app.conf.worker_soft_shutdown_timeout == SOFT_SHUTDOWN_SECONDS
    # Only the cold shutdown honours the soft-shutdown timeout; SIGTERM must start it.
    assert environment(worker)["REMAP_SIGTERM"] == "SIGQUIT"
    assert seconds(worker["stop_grace_period"]) > SOFT_SHUTDOWN_SECONDS + 10


# --- ports --------------------------------------------------------------------------------------


def prometheus_targets() -> dict[str, set[tuple[str, int]]]:
    """job name -> the (host, port) pairs it scrapes (static and DNS discovery)."""
    if not PROMETHEUS_CONFIG.is_file():
        pytest.skip(f"{PROMETHEUS_CONFIG.relative_to(REPO_ROOT)} is not written yet")
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs: dict[str, set[tuple[str, int]]] = {}
    for job in config["scrape_configs"]:
        found = jobs.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                found.add((host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            found |= {(name, int(dns["port"])) for name in dns["names"]}
    return jobs


def test_binds_health_checks_and_callers_agree_on_every_port(
    services: dict[str, dict[str, Any]], demo_env: dict[str, str]
) -> None:
    binds = {
        "token_service": environment(services["token_service"])["TOKEN_SERVICE_BIND"],
        "api": environment(services["api"])["API_BIND"],
        "worker": environment(services["worker"])["WORKER_METRICS_BIND"],
    }
    for name, bind in binds.items():
        assert parse_bind(bind)[1] == SERVICE_PORTS[name], name
    token_port = SERVICE_PORTS["token_service"]
    for caller in ("api", "worker"):
        assert environment(services[caller])["TOKEN_SERVICE_URL"] == (
            f"http://token_service:{token_port}"
        )
    credentials = argv(services["demo_credentials"]["command"])
    assert credentials[credentials.index("--token-service-url") + 1] == (
        f"http://token_service:{token_port}"
    )
    sandbox_url = f"http://sandbox:{SERVICE_PORTS['sandbox']}"
    assert credentials[credentials.index("--sandbox-url") + 1] == sandbox_url
    assert demo_env["REVIZTO_BASE_URL"] == sandbox_url


def test_prometheus_scrapes_the_ports_the_services_listen_on(
    services: dict[str, dict[str, Any]],
) -> None:
    jobs = prometheus_targets()
    for name in EXPORTER_SERVICES:
        assert jobs.get(name) == {(name, SERVICE_PORTS[name])}, (
            f"job {name!r} must scrape the compose service {name} on {SERVICE_PORTS[name]}"
        )
    prometheus = services["prometheus"]
    assert "./monitoring/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_grafana_mounts_the_monitoring_directories_read_only(
    services: dict[str, dict[str, Any]],
) -> None:
    volumes = services["grafana"]["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes


def test_only_the_api_and_the_monitoring_uis_are_published_on_loopback_by_default(
    real: dict[str, Any],
) -> None:
    published = {
        name: service["ports"] for name, service in real["services"].items() if "ports" in service
    }
    assert set(published) == set(PUBLISHED)
    for name, container_port in PUBLISHED.items():
        (mapping,) = published[name]
        assert mapping == f"127.0.0.1:{container_port}:{container_port}", name


def test_workers_can_scale(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: a fixed name prevents --scale"
    assert "ports" not in services["worker"]
    assert "ports" not in services["token_service"]


# --- credentials and secrets --------------------------------------------------------------------


def test_only_the_token_service_mounts_the_appsettings_directory_read_write(
    real: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for model in (real["services"], services):
        for name, service in model.items():
            volumes = [str(v) for v in service.get("volumes", [])]
            mounts_config = [v for v in volumes if ":/app/config" in v or "appsettings" in v]
            if name != "token_service":
                assert not mounts_config, f"{name} must not see appsettings.json"
                continue
            (volume,) = mounts_config
            source, target = volume.split(":")  # no ":ro": the service rewrites the file
            assert target == "/app/config"
            assert not source.endswith(".json"), "mount the directory: rename needs it"
            appsettings = environment(service)["APPSETTINGS_PATH"]
            assert Path(appsettings).parent == Path(target)
    (real_volume,) = real["services"]["token_service"]["volumes"]
    assert real_volume == "./config:/app/config"


def test_secrets_reach_services_as_files_and_compose_fails_fast_without_them(
    raw_compose: dict[str, Any], real: dict[str, Any], tmp_path: Path
) -> None:
    declared = raw_compose["secrets"]
    for variable, secret in SECRETS.items():
        # compose's `environment` source: the value of the .env variable, as a file.
        assert declared[secret] == {"environment": variable}, secret
        users = set()
        for name, service in raw_compose["services"].items():
            env = service.get("environment") or {}
            assert variable not in env, f"{name}: {variable} as a variable, not a secret"
            if secret in service.get("secrets", []):
                users.add(name)
                assert env[f"{variable}_FILE"] == RUN_SECRETS + secret, name
            else:
                assert f"{variable}_FILE" not in env, f"{name} is not granted {secret}"
        assert users == SECRET_USERS[secret], secret
    # Without the variable in .env compose refuses to create a service granted the secret
    # (an `environment` secret needs its variable). A service started without the file
    # anyway stops at once, naming it, rather than running without its secret.
    read_settings = {
        "token_service": TokenServiceSettings.from_env,
        "api": ApiSettings.from_env,
        "worker": WorkerSettings.from_env,
    }
    for variable, secret in SECRETS.items():
        dot_env = {k: v for k, v in REAL_DEPLOYMENT_ENV.items() if k != variable}
        secrets_dir = tmp_path / secret
        secrets_dir.mkdir()
        for name in sorted(SECRET_USERS[secret] & read_settings.keys()):
            env = container_environment(real, name, dot_env, secrets_dir)
            with pytest.raises(ConfigurationError, match=f"cannot read {variable}_FILE"):
                read_settings[name](env)


def test_dot_env_is_git_ignored() -> None:
    ignored = {line.strip() for line in (REPO_ROOT / ".gitignore").read_text().splitlines()}
    assert ignored & {".env", "/.env"}


def test_the_compose_credential_directory_is_git_ignored() -> None:
    ignored = {line.strip() for line in (REPO_ROOT / ".gitignore").read_text().splitlines()}
    assert ignored & {"config", "config/", "/config", "/config/"}


def test_env_example_documents_every_variable_compose_reads(raw_compose: dict[str, Any]) -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    missing = referenced_variables(raw_compose) - documented
    assert not missing, f".env.example does not mention {sorted(missing)}"


def test_env_example_as_copied_is_a_working_demo(
    compose: dict[str, Any], demo_env: dict[str, str]
) -> None:
    """`cp .env.example .env && docker compose --profile demo up` needs no other edit."""
    token_service = compose["services"]["token_service"]
    assert environment(token_service)["REVIZTO_BASE_URL"] == "http://sandbox:8090"
    (volume,) = token_service["volumes"]
    assert volume == "demo-config:/app/config"
    assert "demo-config" in compose["volumes"], "a named volume, declared"
    # A compose project of its own: the demo's Redis and exports never meet a real one's.
    assert demo_env["COMPOSE_PROJECT_NAME"] != compose["name"]


def test_real_deployments_cannot_reach_the_sandbox(
    raw_compose: dict[str, Any], real: dict[str, Any]
) -> None:
    """Without the demo block, nothing outside the demo profile names the sandbox."""
    for name, service in real["services"].items():
        if "demo" not in service.get("profiles", []):
            assert not [s for s in strings(service) if "sandbox" in s], name
    assert environment(real["services"]["token_service"])["REVIZTO_BASE_URL"] == ""
    # In .env.example, the sandbox URL and the demo's own config travel together.
    demo_block = ENV_EXAMPLE.read_text().split("===== DEMO")[1]
    assert "REVIZTO_BASE_URL=http://sandbox" in demo_block
    assert "TOKEN_SERVICE_CONFIG=demo-config" in demo_block


# --- alert delivery: the renderer and Alertmanager ----------------------------------------------


def test_the_renderer_is_given_every_alert_setting_empty_unless_env_sets_it(
    raw_compose: dict[str, Any], real: dict[str, Any]
) -> None:
    given = raw_compose["services"][RENDERER]["environment"]
    settings = {str(field.alias) for field in AlertSettings.model_fields.values() if field.alias}
    assert set(given) == settings, "the renderer gets exactly the ALERT_* settings"
    for variable, value in given.items():
        assert value == f"${{{variable}:-}}", f"{variable}: empty means off, no default here"
    # Empty settings are a valid configuration: the null receiver.
    renderer_env = environment(real["services"][RENDERER])
    assert AlertSettings.from_env(renderer_env).receivers == ()


def test_alertmanager_reads_the_file_the_renderer_writes_from_the_same_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    renderer, alertmanager = services[RENDERER], services["alertmanager"]
    args = argv(renderer["command"])
    assert args[:3] == ["python", "-m", "alerting"]
    parsed = alerting_parser().parse_args(args[3:])
    assert parsed.command == "render"
    config_flag = f"--config.file={parsed.out}"
    assert config_flag in alertmanager["command"]
    written = {v.split(":")[0]: v.split(":")[1] for v in renderer["volumes"]}
    read = {v.split(":")[0]: v.split(":")[1:] for v in alertmanager["volumes"]}
    (volume,) = written
    # The same path on both sides: the config names its secret files by absolute path.
    assert read[volume] == [written[volume], "ro"]
    assert Path(parsed.out).parent == Path(written[volume])
    assert set(read) == {volume, "alertmanager-data"}
    assert "--storage.path=/alertmanager" in alertmanager["command"]
    assert "--cluster.listen-address=" in alertmanager["command"], "one instance, no gossip"


def test_the_renderer_runs_as_root_with_no_capability_but_chown(
    services: dict[str, dict[str, Any]],
) -> None:
    """Root only to write into a fresh volume and hand the files to Alertmanager's user."""
    renderer = services[RENDERER]
    assert renderer["user"] == "0:0"
    assert renderer["cap_drop"] == ["ALL"]
    assert renderer["cap_add"] == ["CHOWN"]
    assert "no-new-privileges:true" in renderer["security_opt"]
    parsed = alerting_parser().parse_args(argv(renderer["command"])[3:])
    assert (parsed.owner.uid, parsed.owner.gid) == (65534, 65534), "the prom images' nobody"


def test_alertmanager_image_and_health_check(raw_compose: dict[str, Any]) -> None:
    alertmanager = raw_compose["services"]["alertmanager"]
    assert alertmanager["image"] == "${ALERTMANAGER_IMAGE:-prom/alertmanager:v0.27.0}"
    assert alertmanager["healthcheck"]["test"] == [
        "CMD", "wget", "-q", "--spider", "http://127.0.0.1:9093/-/healthy"
    ]  # fmt: skip
    assert alertmanager["restart"] == "unless-stopped"


def test_prometheus_sends_alerts_to_the_compose_alertmanager_port(
    services: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    (static,) = alertmanagers["static_configs"]
    (target,) = static["targets"]
    host, _, port = target.rpartition(":")
    assert host == "alertmanager"
    assert host in services
    assert int(port) == PUBLISHED["alertmanager"]


# --- images, root filesystems, the test profile ---------------------------------------------------

# The services that run an upstream image: the variable that chooses it, and the upstream
# default. docker/offline-images.sh prints local equivalents for these variables.
UPSTREAM_IMAGES = {
    "redis": "REDIS_IMAGE",
    "prometheus": "PROMETHEUS_IMAGE",
    "grafana": "GRAFANA_IMAGE",
    "alertmanager": "ALERTMANAGER_IMAGE",
}
_IMAGE = re.compile(r"\$\{(?P<variable>[A-Z_]+_IMAGE):-(?P<default>[^}]+)\}(?P<suffix>-test)?")
OFFLINE_DOCKERFILE = REPO_ROOT / "docker" / "offline" / "Dockerfile"


def test_every_image_is_a_variable_with_the_upstream_default(raw_compose: dict[str, Any]) -> None:
    """No service runs an unparameterised upstream image: where Docker Hub is out of reach
    each can be pointed at a local equivalent without editing this file."""
    documented = ENV_EXAMPLE.read_text()
    for name, service in raw_compose["services"].items():
        match = _IMAGE.fullmatch(service["image"])
        assert match, f"{name}: image {service['image']!r} is not ${{NAME_IMAGE:-default}}"
        variable, default = match.group("variable"), match.group("default")
        if name in UPSTREAM_IMAGES:
            assert variable == UPSTREAM_IMAGES[name], name
            assert re.fullmatch(r"[a-z0-9./-]+:[\w.-]+", default), f"{name}: pin a tag"
            assert not default.startswith("revizto-offline/"), "the default is upstream's"
        else:
            assert variable == "EXPORTER_IMAGE", f"{name} runs this repository's image"
        assert f"# {variable}={default}\n" in documented, f".env.example: {variable}={default}"


def environment_secrets(model: dict[str, Any], service: dict[str, Any]) -> list[str]:
    """The secrets granted to a service that compose must write into the container."""
    declared = model.get("secrets", {})
    return [s for s in service.get("secrets", []) if "environment" in declared.get(s, {})]


def test_root_filesystems_are_read_only_with_a_tmpfs_for_tmp(compose: dict[str, Any]) -> None:
    """Services write only to their volumes and /tmp (celery beat's schedule file, the
    workers' PROMETHEUS_MULTIPROC_DIR). The exceptions: the test suite (it writes its caches
    into /app), and services granted an `environment` secret, which compose writes into the
    container and refuses to for a read-only one."""
    for name, service in compose["services"].items():
        if name == "test":
            continue
        if environment_secrets(compose, service):
            assert service.get("read_only") is False, f"{name}: compose would refuse its secret"
            continue
        assert service.get("read_only") is True, f"{name} needs read_only: true"
        assert "/tmp" in service.get("tmpfs", []), f"{name} needs a tmpfs on /tmp"


def test_the_test_profile_needs_no_env_file(raw_compose: dict[str, Any]) -> None:
    """`docker compose --profile test run --rm test` on a fresh clone, without .env: no
    interpolation may demand a variable (secrets are checked per service, by compose)."""
    interpolated(raw_compose, {})
    assert not raw_compose["services"]["test"].get("secrets")
    assert referenced_variables(raw_compose["services"]["test"]) <= {
        "EXPORTER_IMAGE",
        "PYTHON_IMAGE",
    }


def test_health_check_tools_exist_in_upstream_and_offline_images(
    raw_compose: dict[str, Any],
) -> None:
    """redis-cli and wget: in the upstream images, and in the offline stages too."""
    stages = {
        match.group(1): body
        for match, body in zip(
            re.finditer(r"^FROM \S+ AS (\w+)$", OFFLINE_DOCKERFILE.read_text(), re.MULTILINE),
            re.split(r"^FROM .*$", OFFLINE_DOCKERFILE.read_text(), flags=re.MULTILINE)[1:],
            strict=True,
        )
    }
    assert "redis-server" in stages["redis"], "Debian's redis-server brings redis-cli"
    assert "redis-cli" in " ".join(raw_compose["services"]["redis"]["healthcheck"]["test"])
    for name in ("prometheus", "alertmanager"):
        assert raw_compose["services"][name]["healthcheck"]["test"][:2] == ["CMD", "wget"], name
        assert re.search(r"install .*\bwget\b", stages[name]), f"offline {name} lacks wget"


def test_ci_runs_the_compose_test_after_the_test_suite() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in ci if line.strip().startswith("make ")]
    assert commands[-3:] == ["make test", "make test-slow", "make compose-test"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^compose-test:\n\tbash docker/compose-test\.sh", makefile, re.MULTILINE)
