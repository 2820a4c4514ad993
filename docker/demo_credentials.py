"""Give the demo's token service a credential: a fresh access code from the sandbox.

The `demo` compose profile runs this once per `up`, in place of the person who pastes a
Revizto access code: it asks the sandbox for a code (POST /_sandbox/access-codes) and hands
it to the token service's re-authentication route (PUT /v1/credentials), which exchanges
it at the sandbox. A fresh code on every run, because a restarted sandbox has forgotten
every token it issued, so whatever Redis kept from an earlier run is dead, and a code that
was pre-registered on the sandbox's command line works only once per sandbox process.

    TOKEN_SERVICE_SECRET=... python docker/demo_credentials.py \\
        --sandbox-url http://sandbox:8090 --token-service-url http://token_service:8081

(or TOKEN_SERVICE_SECRET_FILE=/run/secrets/token_service_secret, as compose gives it).

Prints the new generation; never a code or a token.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

REQUEST_TIMEOUT_SECONDS = 30.0  # the token service exchanges the code at the sandbox first
RETRY_INTERVAL_SECONDS = 1.0
DEFAULT_WAIT_SECONDS = 120.0

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Unavailable(Exception):
    """Not reachable or answered 5xx: worth another try with a new code."""


class Refused(Exception):
    """A 4xx: retrying cannot help (a wrong secret, a rejected request)."""


def call(method: str, url: str, *, body: Any = None, secret: str | None = None) -> Any:
    """One JSON request; the decoded reply, or Unavailable / Refused."""
    if not url.startswith(("http://", "https://")):
        raise Refused(f"not an http(s) URL: {url}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (checked)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if secret is not None:
        request.add_header("Authorization", f"Bearer {secret}")
    try:
        with _OPENER.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        problem = _problem(exc)
        if exc.code >= 500:
            raise Unavailable(f"{method} {url}: HTTP {exc.code} {problem}") from None
        raise Refused(f"{method} {url}: HTTP {exc.code} {problem}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise Unavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from None


def _problem(exc: urllib.error.HTTPError) -> str:
    # problem+json bodies of our services name what went wrong and never hold a secret.
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return " ".join(str(body[key]) for key in ("title", "detail") if body.get(key))


def install(sandbox_url: str, token_service_url: str, secret: str) -> int:
    """Mint a code at the sandbox and install it; returns the new generation."""
    code = call("POST", f"{sandbox_url.rstrip('/')}/_sandbox/access-codes")["code"]
    base = token_service_url.rstrip("/")
    installed = call("PUT", f"{base}/v1/credentials", body={"access_code": code}, secret=secret)
    # What the workers will do next: prove the installed credential is served.
    call("GET", f"{base}/v1/token", secret=secret)
    generation: int = installed["generation"]
    return generation


def token_service_secret(env: Mapping[str, str]) -> str:
    """The secret as the services read it (service_common/secret_files.py): the variable,
    or the content of the file `TOKEN_SERVICE_SECRET_FILE` names, less one newline. This
    script runs on its own, so it does not import the package."""
    path = env.get("TOKEN_SERVICE_SECRET_FILE", "")
    if not path:
        return env.get("TOKEN_SERVICE_SECRET", "")
    with open(path, encoding="utf-8") as file:
        text = file.read()
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python docker/demo_credentials.py",
        description="Install a fresh sandbox access code in the token service "
        "(TOKEN_SERVICE_SECRET, or the file TOKEN_SERVICE_SECRET_FILE names).",
    )
    parser.add_argument("--sandbox-url", required=True)
    parser.add_argument("--token-service-url", required=True)
    parser.add_argument(
        "--wait", type=float, default=DEFAULT_WAIT_SECONDS, help="seconds to keep retrying"
    )
    args = parser.parse_args(argv)
    try:
        secret = token_service_secret(os.environ)
    except OSError as exc:
        print(f"cannot read TOKEN_SERVICE_SECRET_FILE: {exc.strerror}", file=sys.stderr)
        return 2
    if not secret:
        print("TOKEN_SERVICE_SECRET (or TOKEN_SERVICE_SECRET_FILE) is required", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.wait
    while True:
        try:
            generation = install(args.sandbox_url, args.token_service_url, secret)
        except Refused as exc:
            print(f"demo credentials refused: {exc}", file=sys.stderr)
            return 1
        except Unavailable as exc:
            if time.monotonic() >= deadline:
                print(f"demo credentials not installed: {exc}", file=sys.stderr)
                return 1
            time.sleep(RETRY_INTERVAL_SECONDS)
            continue
        print(f"demo credentials installed generation={generation}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
