"""Schemathesis, every check, against the live job API and the document it serves.

The run is bounded in examples per operation (not by --max-time, which repeats fuzzing
until the time is spent): about 600 cases in under half a minute on two cores. Its JSON
report is read back, so the test fails when the run checked too little as well as when a
check fails. The stateful phase follows the document's links from a created job to get,
cancel, retry and delete it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.exporter import StartStack
from tests.support.processes import REPO_ROOT
from tests.support.sandbox import SandboxFactory

SCHEMATHESIS = str(Path(sys.executable).parent / "st")
CONFIG = REPO_ROOT / "tests" / "schemathesis.toml"
EXAMPLES_PER_OPERATION = 25
SEED = 20261201


def test_the_live_api_passes_every_schemathesis_check(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    stack = exporter_factory(sandbox, workers=1)
    report = tmp_path / "schemathesis.json"
    run = subprocess.run(
        [
            SCHEMATHESIS, "--config-file", str(CONFIG), "--no-color",
            "run", f"{stack.api_url}/openapi.json",
            "--checks", "all",
            "--header", f"Authorization: Bearer {stack.api_key}",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", str(SEED),
            "--generation-database", "none",  # the same cases every run, nothing left behind
            "--workers", "1",  # hypothesis's lambda cache is not thread-safe (KeyError)
            "--report", "json", "--report-json-path", str(report),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    summary = json.loads(report.read_text())
    assert summary["complete"], summary["stop_reason"]
    assert summary["failures"] == [], summary["failures"]
    assert summary["errors"] == [], summary["errors"]
    operations = summary["operations"]
    assert operations["tested"] == operations["total"] >= 12, operations
    # the bound still leaves hundreds of cases, and each ran checks
    assert summary["test_cases"]["generated"] >= 300, summary["test_cases"]
    assert summary["test_cases"]["errored"] == 0, summary["test_cases"]
    assert "Internal Server Error" not in stack.logs()
