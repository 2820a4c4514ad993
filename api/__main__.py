"""python -m api: serve the job API (bind from API_BIND, default 127.0.0.1:8080)."""

from __future__ import annotations

import sys

from api.app import create_app
from api.settings import ApiSettings, ConfigurationProblem
from service_common.logging import configure_logging
from service_common.redaction import install_masking
from service_common.wsgi import serve


def main() -> int:
    configure_logging()
    install_masking()
    try:
        settings = ApiSettings.from_env()
    except (ConfigurationProblem, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG
    serve(create_app(settings), settings.bind, threads=settings.threads, name="api")
    return 0


if __name__ == "__main__":
    sys.exit(main())
