"""The one error every service raises for a setting it cannot use, and how an entry point
reports it: one line on stderr and exit status 78 (EX_CONFIG from sysexits.h), so that a
supervisor can tell "fix the configuration" from a crash worth restarting."""

from __future__ import annotations

import sys
from typing import TextIO

EX_CONFIG = 78


class ConfigurationError(ValueError):
    """A setting is missing, malformed or inconsistent. The message names the variable and
    never contains the value of a secret."""


def report_configuration_error(error: ConfigurationError, stream: TextIO | None = None) -> int:
    """Print `error` as one line (no traceback) and return the exit status to use."""
    line = " ".join(str(error).split())  # a message quoting a file's reason stays one line
    print(f"configuration error: {line}", file=sys.stderr if stream is None else stream)
    return EX_CONFIG
