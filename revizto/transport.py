"""One HTTP session per client: explicit timeouts, a User-Agent, retries, and metrics hooks.

Every request goes through `Transport.send`, so no call can forget its timeout, and every
transport failure becomes a NetworkError or RequestTimeout that the retry policy knows.
An optional RequestGate paces the requests (the cluster-wide rate limit) and hears about
every throttling reply, so that one worker's 429 slows down all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from revizto.envelope import retry_after_seconds, unwrap
from revizto.errors import NetworkError, RateLimited, RequestTimeout
from revizto.retry import RetryPolicy
from revizto.version import __version__

USER_AGENT = f"revizto-data-exporter/{__version__} (+python-requests)"

# Seconds. Data pages of 100 full issues can take a while to render on Revizto's side.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0

# Called after every attempt with (endpoint name, status label, seconds); the status label
# is the HTTP status as text, or "network" / "timeout" when there was no reply.
RequestObserver = Callable[[str, str, float], None]


class RequestGate(Protocol):
    """Decides when a request may go (service_common/rate_limit.py is the real one)."""

    def before_request(self) -> None:
        """Block until this request may be sent; never raises for the gate's own trouble."""

    def rate_limited(self, retry_after: float | None) -> None:
        """Revizto throttled a request (HTTP 429 or result -2300), asking for `retry_after`
        seconds of quiet (None: it did not say)."""


@dataclass(frozen=True)
class Timeouts:
    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class RawReply:
    """One HTTP reply, reduced to what classification needs."""

    status: int
    content: bytes
    retry_after: float | None


def new_session(pool_size: int = 16) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Transport:
    """HTTP to one Revizto region: `{base_url}/v5/...`."""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        observer: RequestObserver | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.retry_policy = retry_policy or RetryPolicy()
        self.session = session or new_session()
        self._observer = observer
        self._gate = gate

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        bearer: str | None = None,
    ) -> RawReply:
        """One attempt, after the gate lets it go. Transport failures become NetworkError /
        RequestTimeout."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else None
        if self._gate is not None:
            self._gate.before_request()
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                data=form,
                headers=headers,
                timeout=self.timeouts.as_requests(),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            self._observe(endpoint, "timeout", started)
            raise RequestTimeout(f"no reply within {self.timeouts}", endpoint=endpoint) from exc
        except requests.RequestException as exc:
            self._observe(endpoint, "network", started)
            # The exception text names host and port only; bodies and headers are not in it.
            raise NetworkError(
                f"{type(exc).__name__} talking to Revizto", endpoint=endpoint
            ) from exc
        self._observe(endpoint, str(response.status_code), started)
        return RawReply(
            status=response.status_code,
            content=response.content,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def get_once(
        self,
        path: str,
        *,
        endpoint: str,
        bearer: str,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """GET an envelope once and return its `data`; failures are classified errors."""
        reply = self.send("GET", path, endpoint=endpoint, params=params, bearer=bearer)
        try:
            return unwrap(
                reply.status, reply.content, endpoint=endpoint, retry_after=reply.retry_after
            )
        except RateLimited as exc:
            # Told here, after classification, so that result -2300 in an HTTP 200 counts
            # as much as a 429.
            if self._gate is not None:
                self._gate.rate_limited(exc.retry_after)
            raise

    def get_data(
        self,
        path: str,
        *,
        endpoint: str,
        bearer: str,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """GET an envelope and return its `data`, retrying transient failures."""
        for attempt in self.retry_policy.retrying(endpoint):
            with attempt:
                return self.get_once(path, endpoint=endpoint, bearer=bearer, params=params)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _observe(self, endpoint: str, status: str, started: float) -> None:
        if self._observer is not None:
            self._observer(endpoint, status, time.monotonic() - started)
