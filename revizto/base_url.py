"""Check a configured Revizto base URL before anything is sent to it.

Every API path is `{BaseUrl}/v5/...` on a region's API host, `https://api.<region>.revizto.com`
(docs/revizto-api.md §1). The original tool's example `https://app.revizto.com/api` is the
web app, not the API: every call would fail, and the first one would spend a refresh token
on the wrong host. So a URL with a path, a Revizto host that is not an API host, or plain
http outside the sandbox is refused with the form it should have.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

RIGHT_FORM = "https://api.<region>.revizto.com (for example https://api.virginia.revizto.com)"
_API_HOST = re.compile(r"api\.[a-z0-9-]+\.revizto\.com")


class BadBaseUrl(ValueError):
    """The base URL cannot be Revizto's API; the message shows the right form."""


def checked_base_url(url: str, *, plain_http_hosts: Collection[str] = ()) -> str:
    """`url` without a trailing `/` or `/v5`, or BadBaseUrl saying what to write instead.

    >>> checked_base_url("https://api.virginia.revizto.com/v5/")
    'https://api.virginia.revizto.com'
    """
    text = url.strip().rstrip("/").removesuffix("/v5")
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    problem = None
    if parts.scheme not in ("https", "http") or not host:
        problem = "it is not an http(s) URL"
    elif parts.scheme == "http" and host not in plain_http_hosts:
        problem = "plain http is only for the local sandbox (REVIZTO_PLAIN_HTTP_HOSTS)"
    elif parts.path or parts.query or parts.fragment:
        problem = f"it has a path ({parts.path or '?' + parts.query}); API paths are added to it"
    elif host.endswith("revizto.com") and not _API_HOST.fullmatch(host):
        problem = f"{host} is not a Revizto API host"
    if problem is not None:
        raise BadBaseUrl(f"Revizto base URL {url!r} is refused: {problem}. Use {RIGHT_FORM}")
    return text
