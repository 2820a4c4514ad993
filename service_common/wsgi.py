"""Serve a WSGI app with waitress: a threaded production server in a single process.

One process matters here: the sandbox keeps its fake Revizto in memory, and a SIGKILL of
a token-service process must kill exactly the process doing the refresh.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from waitress.server import create_server

log = logging.getLogger(__name__)


def parse_bind(bind: str) -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:port`) into its parts.

    >>> parse_bind("127.0.0.1:8081")
    ('127.0.0.1', 8081)
    >>> parse_bind("[::1]:80")
    ('::1', 80)
    """
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bind address must look like HOST:PORT, got {bind!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def listening(name: str, host: str, port: int, threads: int) -> None:
    """From here on SIGTERM stops the server as SystemExit(0), like Ctrl-C; and the line
    operators and tests look for says where it listens. Shared by both servers."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("listening server=%s address=http://%s:%d threads=%d", name, host, port, threads)


def serve(app: Any, bind: str, *, threads: int, name: str, connection_limit: int = 1000) -> None:
    """Serve `app` until SIGTERM or SIGINT; logs the address once it is listening."""
    host, port = parse_bind(bind)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident=name,
        connection_limit=connection_limit,
        # Lets a handler notice a caller that hung up (`waitress.client_disconnected`).
        channel_request_lookahead=1,
        clear_untrusted_proxy_headers=True,
    )

    listening(name, host, port, threads)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        log.info("stopping server=%s", name)
    finally:
        server.close()
