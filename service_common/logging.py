"""Process-wide logging setup: one event per line, key=value context, UTC timestamps."""

from __future__ import annotations

import logging
import os
import sys
import time

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str | None = None) -> None:
    """Log to stderr at LOG_LEVEL (default INFO); safe to call more than once."""
    formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    # waitress logs every queue-depth warning at WARNING; keep them, but not its INFO chatter.
    logging.getLogger("waitress").setLevel(logging.WARNING)
