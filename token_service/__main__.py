"""python -m token_service [serve | auth --access-code CODE | status]."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from revizto.errors import AccessCodeRejected, AccessCodeWrongRegion, ReviztoError
from service_common.asgi import serve_asgi
from service_common.configuration_error import ConfigurationError, report_configuration_error
from service_common.logging import configure_logging
from service_common.redaction import install_masking
from token_service.app import create_app
from token_service.config import Settings
from token_service.front import TokenFront
from token_service.keepalive import keep_alive
from token_service.runtime import Runtime, build_runtime, open_storage, seal_mirror
from token_service.state_watch import state_watch
from token_service.status import credential_status

log = logging.getLogger("token_service")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m token_service", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the token API (the default)")
    auth = commands.add_parser(
        "auth", help="re-authenticate: exchange a Revizto access code and install the tokens"
    )
    auth.add_argument(
        "--access-code", required=True, help="the code from Revizto (15 minutes, single use)"
    )
    commands.add_parser("status", help="print the credential's health as JSON")
    args = parser.parse_args(argv)

    configure_logging()
    install_masking()
    try:
        runtime = build_runtime(Settings.from_env())
        open_storage(runtime)
    except ConfigurationError as exc:
        return report_configuration_error(exc)

    if args.command == "auth":
        return _auth(runtime, args.access_code)
    if args.command == "status":
        report, code = credential_status(runtime)
        print(json.dumps(report, indent=2))
        return code
    return _serve(runtime)


def _serve(runtime: Runtime) -> int:
    try:
        runtime.manager.adopt_newer_file()
        runtime.manager.bootstrap()
        runtime.manager.stamp_unknown_installation()
        seal_mirror(runtime)
    except Exception as exc:  # Redis may come up later; readiness reports it meanwhile
        log.error("bootstrap failed error=%s; will retry in the background", exc)
    if runtime.settings.keepalive > 0:
        keep_alive(runtime.manager, runtime.settings.keepalive).start()
    if runtime.settings.state_check > 0:
        state_watch(runtime.manager, runtime.settings.state_check).start()
    serve_asgi(
        TokenFront(runtime, create_app(runtime)),
        runtime.settings.bind,
        threads=runtime.settings.threads,
        name="token_service",
    )
    return 0


def _auth(runtime: Runtime, access_code: str) -> int:
    try:
        state = runtime.manager.install_access_code(access_code)
    except AccessCodeWrongRegion as exc:
        print(f"Revizto refused the access code: {exc}", file=sys.stderr)
        return 1
    except AccessCodeRejected:
        print(
            "Revizto refused the access code (used, expired, or not an access code).",
            file=sys.stderr,
        )
        return 1
    except ReviztoError as exc:
        print(f"could not reach Revizto: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"installed": True, "generation": state.generation, "expires_at": state.expires_at}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
