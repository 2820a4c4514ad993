"""The job API's keys: who is calling, and whether they may see every job.

EXPORTER_API_KEYS is comma-separated; an entry is `name:key` (the name is what jobs record
as their owner and what logs show) or a bare key, named by its fingerprint. Names listed
in EXPORTER_ADMIN_KEYS see every job; other keys see only the jobs they created.

>>> keys = ApiKeys.parse("erp:0123456789abcdef01,bi:fedcba9876543210fe", admins="bi")
>>> keys.identify("0123456789abcdef01").name, keys.identify("fedcba9876543210fe").admin
('erp', True)
>>> keys.identify("nope") is None
True
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field

from service_common.redaction import fingerprint

MIN_KEY_LENGTH = 16
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ApiKeysProblem(ValueError):
    """EXPORTER_API_KEYS or EXPORTER_ADMIN_KEYS cannot be used as written."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    key: str = field(repr=False)
    admin: bool = False


@dataclass(frozen=True)
class ApiKeys:
    keys: tuple[ApiKey, ...]

    @classmethod
    def parse(cls, raw: str, admins: str = "") -> ApiKeys:
        entries = [e.strip() for e in raw.split(",") if e.strip()]
        if not entries:
            raise ApiKeysProblem("EXPORTER_API_KEYS is required (comma-separated `name:key`)")
        admin_names = {a.strip() for a in admins.split(",") if a.strip()}
        keys: list[ApiKey] = []
        for entry in entries:
            name, sep, key = entry.partition(":")
            if not sep:
                name, key = f"key-{fingerprint(entry)[:8]}", entry
            if not NAME.fullmatch(name):
                raise ApiKeysProblem(
                    f"EXPORTER_API_KEYS: {name!r} is not a key name (letters, digits, _ . -)"
                )
            if len(key) < MIN_KEY_LENGTH:
                raise ApiKeysProblem(
                    f"EXPORTER_API_KEYS: the key named {name!r} must be at least "
                    f"{MIN_KEY_LENGTH} characters"
                )
            keys.append(ApiKey(name, key, admin=name in admin_names))
        names = [k.name for k in keys]
        if len(set(names)) != len(names):
            raise ApiKeysProblem("EXPORTER_API_KEYS: every key needs a name of its own")
        unknown = sorted(admin_names - set(names))
        if unknown:
            raise ApiKeysProblem(f"EXPORTER_ADMIN_KEYS names no key called {', '.join(unknown)}")
        return cls(tuple(keys))

    def identify(self, presented: str | None) -> ApiKey | None:
        """The key presented, compared against every key without an early exit."""
        if presented is None:
            return None
        candidate = presented.encode()
        found: ApiKey | None = None
        for key in self.keys:
            if hmac.compare_digest(candidate, key.key.encode()):
                found = key
        return found
