"""Which `notify_url`s a job may have: only hosts the operator allowed, so a caller cannot
make the workers POST into the cluster's own network (SSRF).

EXPORT_WEBHOOK_ALLOWED_HOSTS is comma-separated; an entry is a host name (any port) or
`host:port` (only that port).

>>> policy = WebhookPolicy.parse("hooks.example.com, ci.example.com:8443")
>>> policy.allows("https://hooks.example.com/revizto")
True
>>> policy.allows("https://ci.example.com:8443/x"), policy.allows("https://ci.example.com/x")
(True, False)
>>> policy.allows("http://127.0.0.1:6379/")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from standardwebhooks import Webhook

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class WebhookPolicy:
    hosts: frozenset[str]  # any port
    host_ports: frozenset[tuple[str, int]]  # this port only

    @classmethod
    def parse(cls, raw: str) -> WebhookPolicy:
        hosts: set[str] = set()
        host_ports: set[tuple[str, int]] = set()
        for entry in (e.strip().lower() for e in raw.split(",")):
            if not entry:
                continue
            if entry.startswith("["):  # an IPv6 literal, [::1] or [::1]:8080
                host, _, rest = entry[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else None
                valid = bool(host) and (rest == "" or (port or "").isdigit())
            else:
                host, sep, port_text = entry.partition(":")
                port = port_text if sep else None
                valid = bool(host) and (port is None or port.isdigit())
            if not valid:
                raise ValueError(
                    f"EXPORT_WEBHOOK_ALLOWED_HOSTS entry {entry!r} is not `host` or `host:port`"
                )
            if port is None:
                hosts.add(host)
            else:
                host_ports.add((host, int(port)))
        return cls(frozenset(hosts), frozenset(host_ports))

    @property
    def empty(self) -> bool:
        return not self.hosts and not self.host_ports

    def allows(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        if not host or port is None:
            return False
        return host in self.hosts or (host, port) in self.host_ports


def checked_webhook_secret(secret: str) -> str:
    """EXPORT_WEBHOOK_SECRET, refused at start when it is not `whsec_` plus base64 (Standard
    Webhooks' form) rather than when the first job finishes; empty means webhooks off."""
    if not secret:
        return secret
    try:
        if not secret.startswith("whsec_"):
            raise ValueError
        Webhook(secret)
    except Exception:
        raise ValueError("EXPORT_WEBHOOK_SECRET must be whsec_ followed by base64") from None
    return secret
