"""Keep tokens out of logs: fingerprints instead of values, and a filter that masks leaks.

Every token the service handles is registered here as soon as it is read or received, so
a token that slips into a message (an exception text, a library's debug line) is masked
by value; well-known key names and token shapes are masked even before registration.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict

MASK = "***"
FINGERPRINT_LENGTH = 12
REGISTRY_CAPACITY = 64  # tokens remembered for masking by value

# key=value / "key": "value" / Bearer value, for the names tokens travel under.
_BY_KEY = re.compile(
    r"""(?ix)
    (?P<key>
        (?:access|refresh)[_-]?token | accesstoken | refreshtoken | apikey | api_key
        | access_code | (?<![a-z])code | authorization | secret
    )
    (?P<sep>["']?\s*[:=]\s*["']?(?:bearer\s+)?)
    (?P<value>[^\s"',}&]+)
    """
)
_BEARER = re.compile(r"(?i)(bearer\s+)([^\s\"',}]+)")
# What a key-matched value may be and still be shown: a fingerprint (this module's own), and
# after a bare `code`, anything short enough to be an error code (`code=retries_exhausted`);
# an access code is far longer, and its `def50200` shape is masked anyway.
_FINGERPRINT = re.compile(r"[0-9a-f]{12}")
_MAX_ERROR_CODE_LENGTH = 32
# JWTs (header.payload.signature) and league/oauth2-server refresh tokens / access codes.
_BY_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*|def50200[0-9a-fA-F]{16,}")


def fingerprint(token: str | None) -> str:
    """A short SHA-256 prefix: enough to follow a token through the logs, useless to steal."""
    if not token:
        return "none"
    return hashlib.sha256(token.encode()).hexdigest()[:FINGERPRINT_LENGTH]


class SecretRegistry:
    """The most recent token values seen; thread-safe.

    Bounded: a year of hourly rotations would otherwise make one enormous pattern. Older
    tokens are dead, and any JWT or refresh token is still masked by its shape.
    """

    def __init__(self, capacity: int = REGISTRY_CAPACITY) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, *values: str | None) -> None:
        new = [v for v in values if v and len(v) >= 8 and v not in self._values]
        if not new:
            return
        with self._lock:
            for value in new:
                self._values[value] = None
            while len(self._values) > self._capacity:
                self._values.popitem(last=False)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _BY_KEY.sub(_mask_by_key, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
        return _BY_SHAPE.sub(MASK, text)


def _mask_by_key(match: re.Match[str]) -> str:
    key, value = match.group("key"), match.group("value")
    readable = _FINGERPRINT.fullmatch(value) is not None or (
        key.lower() == "code" and len(value) < _MAX_ERROR_CODE_LENGTH
    )
    return match.group(0) if readable else f"{key}{match.group('sep')}{MASK}"


SECRETS = SecretRegistry()


class MaskingFormatter(logging.Formatter):
    """Formats as usual, then masks: covers the message, its arguments and tracebacks."""

    def __init__(self, inner: logging.Formatter, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self._inner = inner
        self._registry = registry

    def format(self, record: logging.LogRecord) -> str:
        return self._registry.mask(self._inner.format(record))


def install_masking(
    logger: logging.Logger | None = None, registry: SecretRegistry = SECRETS
) -> None:
    """Wrap the formatter of every handler of `logger` (default: the root logger) so
    nothing reaches a sink unmasked."""
    for handler in (logger or logging.getLogger()).handlers:
        current = handler.formatter or logging.Formatter()
        if not isinstance(current, MaskingFormatter):
            handler.setFormatter(MaskingFormatter(current, registry))
