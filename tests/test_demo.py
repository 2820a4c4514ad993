"""`make demo` is a README command: it must work, and leave no process behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from demo.launcher import RUN_MARKER
from tests.support.processes import REPO_ROOT


def processes_marked_with(marker: str) -> list[int]:
    """Live processes whose environment carries the demo's run marker."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"{RUN_MARKER}={marker}".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue  # exited while we looked, or not ours to read
    return found


def test_the_demo_exports_everything_and_stops_every_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--projects",
            "2",
            "--issues-per-project",
            "30",
            "--dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Export succeeded" in done.stdout
    assert "issues" in done.stdout
    # Each project's progress is shown while it runs, and how it ended
    project_lines = [
        line for line in done.stdout.splitlines() if line.strip().startswith("project ")
    ]
    assert len({line.split()[2] for line in project_lines}) == 2, done.stdout
    assert sum("succeeded" in line for line in project_lines) == 2
    (run_dir,) = tmp_path.iterdir()
    exports = list((run_dir / "exports").iterdir())
    assert len(exports) == 1
    assert (exports[0] / "manifest.json").is_file()
    # Every process it started is gone
    assert processes_marked_with(str(run_dir / "logs")) == []
