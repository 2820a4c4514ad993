"""The token service refuses to start (exit 78, EX_CONFIG) when the directory of
appsettings.json is not writable, rather than run healthy while no rotation persists: the
case of a ./config that Docker created, owned by root, for a service that runs as uid
10001. As real processes: `python -m token_service` with such a directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.token_service import new_secret, run_token_service, write_appsettings


def start(appsettings: Path, redis_url: str) -> tuple[int, str]:
    done = run_token_service(
        {
            "REDIS_URL": redis_url,
            "APPSETTINGS_PATH": str(appsettings),
            "TOKEN_SERVICE_SECRET": new_secret(),
            "TOKEN_SERVICE_BIND": "127.0.0.1:1",
            "REVIZTO_BASE_URL": "https://api.virginia.revizto.com",
        },
        "serve",
    )
    return done.returncode, done.stderr


def assert_refused_naming(directory: Path, returncode: int, stderr: str) -> None:
    assert returncode == 78, stderr
    assert f"appsettings directory {directory} is not writable" in stderr
    assert "chown -R 10001:10001" in stderr, "the fix for a compose deployment"
    assert "Traceback" not in stderr


@pytest.fixture
def unwritable_directory(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody here may create files in. Root ignores permission bits, so as root
    it is sysfs, where not even root may create a file."""
    if os.geteuid() != 0:
        directory = tmp_path / "config"
        directory.mkdir()
        directory.chmod(0o500)
        yield directory
        directory.chmod(0o700)
        return
    directory = Path("/sys")
    try:
        fd, name = tempfile.mkstemp(dir=directory)
    except OSError:
        yield directory
        return
    os.close(fd)
    os.unlink(name)
    pytest.skip(f"{directory} is writable here")


def test_a_directory_it_cannot_write_stops_the_service(
    unwritable_directory: Path, redis_url: str
) -> None:
    returncode, stderr = start(unwritable_directory / "appsettings.json", redis_url)
    assert_refused_naming(unwritable_directory, returncode, stderr)


def test_a_file_in_place_of_the_directory_stops_the_service(tmp_path: Path, redis_url: str) -> None:
    not_a_directory = tmp_path / "config"
    not_a_directory.write_text("")
    returncode, stderr = start(not_a_directory / "appsettings.json", redis_url)
    assert_refused_naming(not_a_directory, returncode, stderr)
    assert "is not a directory" in stderr


def test_a_writable_directory_is_left_as_it_was(tmp_path: Path, redis_url: str) -> None:
    """The check writes a probe and removes it; `status` on a healthy directory passes it."""
    path = tmp_path / "appsettings.json"
    write_appsettings(path, ApiKey="def50200" + "1" * 40)
    done = run_token_service(
        {
            "REDIS_URL": redis_url,
            "APPSETTINGS_PATH": str(path),
            "TOKEN_SERVICE_SECRET": new_secret(),
            "REVIZTO_BASE_URL": "https://api.virginia.revizto.com",
        },
        "status",
    )
    assert "not writable" not in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["appsettings.json"]
