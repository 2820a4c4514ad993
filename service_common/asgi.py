"""Serve an ASGI app with uvicorn: one process, one event loop (the token service).

Like `service_common.wsgi.serve`, a single process, so a SIGKILL of a token-service
process kills exactly the process doing the refresh, and the same start and stop log
lines, so operators and tests see no difference.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import uvicorn

from service_common.wsgi import listening, parse_bind

log = logging.getLogger(__name__)

# waitress's idle keep-alive timeout, which the token clients' pooled connections knew.
KEEP_ALIVE_SECONDS = 120
# How long a stop waits for requests in flight (a refresh under way finishes within it).
GRACEFUL_STOP_SECONDS = 10


def serve_asgi(app: Any, bind: str, *, name: str, threads: int) -> None:
    """Serve `app` until SIGTERM or SIGINT; logs the address once it is listening.

    `threads` is only reported: the app owns its thread pool (a2wsgi's, for Flask)."""
    host, port = parse_bind(bind)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,  # service_common.logging has configured logging already
        access_log=False,
        proxy_headers=False,  # as waitress's clear_untrusted_proxy_headers
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    server = uvicorn.Server(config)
    # Bound before the log line, as waitress does: "listening" means it.
    sockets = [config.bind_socket()]

    # uvicorn stops gracefully on SIGTERM, then re-raises the signal to the handler it
    # found: the one `listening` installs, so the process exits 0 as under waitress.
    listening(name, host, port, threads)
    with contextlib.suppress(SystemExit, KeyboardInterrupt):
        server.run(sockets=sockets)
    log.info("stopping server=%s", name)
