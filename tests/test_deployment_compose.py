"""docker-compose.yml and .env.example, checked without a Docker engine: every command,
health check, variable, port, mount and secret is compared with the code it starts."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import ApiSettings
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
SECRETS = ("TOKEN_SERVICE_SECRET", "EXPORTER_API_KEYS")
# Where each service listens inside its container (the contract the checks compare with).
SERVICE_PORTS = {"api": 8080, "token_service": 8081, "worker": 9808, "sandbox": 8090}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what a container must listen on)
PUBLISHED = {"api": 8080, "prometheus": 9090, "grafana": 3000}
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
    """A compose `command` as argv; `sh -c "exec ..."` is unwrapped to what it execs."""
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if args[:2] == ["sh", "-c"]:
        inner = shlex.split(args[2])
        return inner[1:] if inner[0] == "exec" else inner
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


# --- shape: services and profiles -------------------------------------------------------------


def test_compose_file_parses_with_the_expected_services(services: dict[str, Any]) -> None:
    expected = {
        "redis", "prometheus", "grafana", "test", SCHEDULER, *EXPORTER_SERVICES, *DEMO_SERVICES
    }  # fmt: skip
    assert set(services) == expected


def test_demo_services_only_in_the_demo_profile_and_tests_only_in_the_test_profile(
    services: dict[str, dict[str, Any]],
) -> None:
    profiles = {name: service.get("profiles", []) for name, service in services.items()}
    for name in DEMO_SERVICES:
        assert profiles[name] == ["demo"], name
    assert profiles["test"] == ["test"]
    for name in ("redis", "prometheus", "grafana", SCHEDULER, *EXPORTER_SERVICES):
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
    for flag in (arg for arg in args[3:] if arg.startswith("--")):
        assert flag in help_text, f"python -m demo has no {flag}"
    assert args[args.index("--api-url") + 1] == f"http://api:{SERVICE_PORTS['api']}"


def test_the_demo_client_gets_the_first_api_key_and_python_stays_pid_1(
    raw_compose: dict[str, Any], demo_env: dict[str, str]
) -> None:
    shell = raw_compose["services"]["demo"]["command"]
    assert shell[:2] == ["sh", "-c"]
    assert shell[2].startswith("exec "), "without exec the shell would be PID 1"
    script = interpolate(shell[2], demo_env)
    # What the container's shell does with it:
    keys = "first-key-of-sixteen-chars,second-key-of-sixteen"
    done = subprocess.run(
        ["sh", "-c", script.replace("exec python", "echo", 1)],
        env={"EXPORTER_API_KEYS": keys, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[-1] == "first-key-of-sixteen-chars"


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
    one_shot = {"demo", "demo_credentials", "test"}
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
    known = {*EXPORTER_SERVICES, SCHEDULER}
    table = {}
    for name, users in rows:
        listed = {user.strip() for user in users.split(",")}
        table[name] = known if "all" in listed else listed
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
    services: dict[str, dict[str, Any]], real: dict[str, Any]
) -> None:
    """The settings parsers of the services, fed what compose gives them (demo and real)."""
    for model in (services, real["services"]):
        token_settings = TokenServiceSettings.from_env(environment(model["token_service"]))
        token_settings.check()
        assert token_settings.appsettings_path == Path("/app/config/appsettings.json")
        api = ApiSettings.from_env(environment(model["api"]))
        assert api.keys.keys
        assert api.token_service_secret
        worker = WorkerSettings.from_env(environment(model["worker"]))
        assert worker.token_service_secret == token_settings.secret == api.token_service_secret
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


def test_only_the_api_prometheus_and_grafana_are_published_on_loopback_by_default(
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


def test_secrets_come_from_env_and_compose_fails_fast_without_them(
    raw_compose: dict[str, Any],
) -> None:
    for service in raw_compose["services"].values():
        for variable, value in (service.get("environment") or {}).items():
            if variable in SECRETS:
                assert str(value).startswith(f"${{{variable}:?"), variable
    for missing in SECRETS:
        env = {k: v for k, v in REAL_DEPLOYMENT_ENV.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            interpolated(raw_compose, env)


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
