"""Print pyproject.toml's dependencies, or one extra's, as pip requirement lines.

The Dockerfile installs them in a layer of their own before it copies the code, so a code
change does not reinstall every dependency; pyproject.toml stays the only list.

    python pyproject_requirements.py [--extra test] [path/to/pyproject.toml]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path


def requirements(pyproject: Path, extra: str | None = None) -> list[str]:
    """The `[project] dependencies`, or `[project.optional-dependencies] <extra>`."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    if extra is None:
        return list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    if extra not in extras:
        raise SystemExit(f"{pyproject} has no extra {extra!r} (has: {', '.join(sorted(extras))})")
    return list(extras[extra])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pyproject.toml dependencies for pip -r")
    parser.add_argument("pyproject", nargs="?", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--extra", help="an optional-dependencies group instead")
    args = parser.parse_args(argv)
    print("\n".join(requirements(args.pyproject, args.extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
