"""`python -m service_common.healthcheck URL`: exit 0 if URL answers 2xx in time, else 1.

The container image has no curl or wget, so Docker and Compose health checks run this.
It imports only the standard library: it starts every few seconds in every container.

>>> probe("ftp://example.com/")
'not an http(s) URL'
"""

from __future__ import annotations

import argparse
import http.client
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

HEALTHY = 0
UNHEALTHY = 1
# Below Compose's healthcheck timeout, so a slow service is reported by us, with a reason,
# rather than killed by Docker without one.
DEFAULT_TIMEOUT_SECONDS = 3.0

# A proxy from the environment must not stand between a container and its own port.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str | None:
    """None when `url` answers 2xx; otherwise why it is unhealthy.

    `timeout` bounds the connection and each read, not the whole exchange; Docker's own
    healthcheck timeout bounds that.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return "not an http(s) URL"
    try:
        # The scheme was checked above: only http(s), never file: or ftp:.
        with _OPENER.open(url, timeout=timeout) as response:
            status: int = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return f"unreachable: {exc.reason}"
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except (OSError, http.client.HTTPException) as exc:
        return f"unreachable: {type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service_common.healthcheck",
        description="Exit 0 if URL answers HTTP 2xx within the timeout, 1 otherwise.",
    )
    parser.add_argument("url", help="e.g. http://127.0.0.1:8080/healthz")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to connect and to wait for the answer (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    problem = probe(args.url, args.timeout)
    if problem is None:
        return HEALTHY
    # Docker keeps this line in `docker inspect`, next to the unhealthy state.
    print(f"unhealthy url={args.url} reason={problem}", file=sys.stderr)
    return UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
