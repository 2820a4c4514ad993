"""`make demo` is a README command: it must work, and leave no process behind."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
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
    export, sync = done.stdout.split("Syncing into the embedded SQLite database")
    # Each project's progress is shown while it runs, and how it ended, for both jobs
    for shown in (export, sync):
        project_lines = [line for line in shown.splitlines() if line.strip().startswith("project ")]
        assert len({line.split()[2] for line in project_lines}) == 2, done.stdout
        assert sum("succeeded" in line for line in project_lines) == 2
    # The sync's issues are in the database's view: 2 projects x 30
    assert "revizto_issues_view: 60 issues" in sync
    (run_dir,) = tmp_path.iterdir()
    folders = [p for p in (run_dir / "exports").iterdir() if p.is_dir()]
    assert len(folders) == 2
    assert all((folder / "manifest.json").is_file() for folder in folders)
    assert (run_dir / "exports" / "revizto.sqlite3").is_file()
    # Every process it started is gone
    assert processes_marked_with(str(run_dir / "logs")) == []


def test_keep_running_prints_commands_that_work_when_pasted(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            sys.executable, "-m", "demo", "--projects", "1", "--issues-per-project", "10",
            "--dir", str(tmp_path), "--keep-running",
        ],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout or []])
    reader.start()
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not printed or "Press Ctrl-C" not in printed[-1]:
            assert time.monotonic() < deadline, "".join(printed)
            assert demo.poll() is None, "".join(printed)
            try:
                printed.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        start = next(i for i, line in enumerate(printed) if "paste:" in line)
        pasted = [line.strip() for line in printed[start + 1 : -1] if line.startswith("  ")]
        exports = [line for line in pasted if line.startswith("export ")]
        commands = [line for line in pasted if not line.startswith("export ")]
        assert len(commands) >= 5, printed
        script = "\n".join(
            [
                "set -e",
                *exports,
                # the README's curl examples, as pasted by a user
                'curl -sf "$API_URL/v1/exports?limit=1" -H "Authorization: Bearer $API_KEY"',
                'curl -sf "$API_URL/v1/credential" -H "Authorization: Bearer $API_KEY"',
                *commands,
            ]
        )
        ran = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
            timeout=240, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert list(tmp_path.glob("export-*/manifest.json")), ran.stdout[-2000:]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        reader.join(timeout=10)
    run_dir = next(p for p in tmp_path.iterdir() if (p / "logs").is_dir())
    assert processes_marked_with(str(run_dir / "logs")) == []
