"""TokenServiceProvider: the client side of the token service, for workers and the API.

Implements revizto.TokenProvider. The token is cached in-process until the token service
would refresh it anyway (`refresh_at`), so a busy worker asks once per rotation, not once
per request. After a 401 the worker reports the generation it used; the token service
refreshes only if nobody has already.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from revizto.errors import NetworkError, RequestTimeout, ReviztoError, TransientError
from revizto.retry import RetryPolicy
from revizto.tokens import IssuedToken

log = logging.getLogger(__name__)

DEFAULT_TOKEN_SERVICE_URL = "http://127.0.0.1:8081"  # noqa: S105 (a URL, not a secret)
# The token service answers from Redis in milliseconds; a refresh may take a few seconds.
TOKEN_SERVICE_TIMEOUT = (3.0, 60.0)


class ReauthRequired(Exception):
    """The shared Revizto credential needs a human; exporting cannot continue."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Revizto re-authentication required ({reason})")
        self.reason = reason


class TokenServiceUnavailable(TransientError):
    """The token service could not hand out a token right now; try again later."""


class TokenServiceRefused(ReviztoError):
    """The token service refused this worker (wrong TOKEN_SERVICE_SECRET): a deployment bug."""


class TokenServiceProvider:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        session: requests.Session | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Any = time.time,
    ) -> None:
        self._url = url.rstrip("/")
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"Bearer {secret}"
        self._retry = retry_policy or RetryPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: IssuedToken | None = None
        self._cached_until = 0.0
        self.base_url: str | None = None

    def current_token(self) -> IssuedToken:
        with self._lock:
            if self._cached is not None and self._clock() < self._cached_until:
                return self._cached
            return self._store(self._call("GET", "/v1/token", None))

    def refresh_after_rejection(self, generation: int) -> IssuedToken:
        with self._lock:
            if self._cached is not None and self._cached.generation > generation:
                return self._cached
            return self._store(self._call("POST", "/v1/token/refresh", {"generation": generation}))

    def credential(self) -> dict[str, Any]:
        """The credential's state (never a token): the token service's `GET /v1/credential`."""
        return self._call("GET", "/v1/credential", None)

    def _store(self, body: dict[str, Any]) -> IssuedToken:
        token = IssuedToken(
            access_token=str(body["access_token"]),
            generation=int(body["generation"]),
            expires_at=float(body["expires_at"]),
        )
        # Cached until the token service would refresh it anyway: asking earlier only
        # returns the same token; asking later risks using it past its expiry.
        refresh_at = float(body.get("refresh_at", token.expires_at - 60))
        self._cached = token
        self._cached_until = min(refresh_at, token.expires_at - 1)
        if isinstance(body.get("base_url"), str):
            self.base_url = body["base_url"]
        return token

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        for attempt in self._retry.retrying(f"token_service:{path}"):
            with attempt:
                return self._call_once(method, path, body)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _call_once(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = self._session.request(
                method, self._url + path, json=body, timeout=TOKEN_SERVICE_TIMEOUT
            )
        except requests.Timeout as exc:
            raise RequestTimeout("token service did not answer", endpoint="token_service") from exc
        except requests.RequestException as exc:
            raise NetworkError(
                f"token service unreachable ({type(exc).__name__})", endpoint="token_service"
            ) from exc
        if response.status_code == 200:
            payload: dict[str, Any] = response.json()
            return payload
        problem = _problem(response)
        if problem.get("type", "").endswith("/reauth-required"):
            raise ReauthRequired(str(problem.get("reason", "unknown")))
        if response.status_code >= 500:
            raise TokenServiceUnavailable(
                f"token service: {problem.get('title', response.status_code)} "
                f"({problem.get('reason', '')})",
                http_status=response.status_code,
                endpoint="token_service",
            )
        # 401/422 here are this deployment's bugs (wrong secret), not Revizto's.
        raise TokenServiceRefused(
            f"token service refused the request: HTTP {response.status_code} "
            f"{problem.get('title', '')}",
            http_status=response.status_code,
            endpoint="token_service",
        )


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
