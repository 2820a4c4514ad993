"""python -m api: serve the job API (bind from API_BIND, default 127.0.0.1:8080)."""

from __future__ import annotations

import sys

from api.app import create_app
from api.settings import ApiSettings
from service_common.configuration_error import ConfigurationError, report_configuration_error
from service_common.logging import configure_logging
from service_common.redaction import install_masking
from service_common.wsgi import serve


def main() -> int:
    configure_logging()
    install_masking()
    try:
        settings = ApiSettings.from_env()
    except ConfigurationError as exc:
        return report_configuration_error(exc)
    serve(create_app(settings), settings.bind, threads=settings.threads, name="api")
    return 0


if __name__ == "__main__":
    sys.exit(main())
