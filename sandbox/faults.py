"""Injected faults: the settings `POST /_sandbox/faults` changes, and their one-shot counters.

Every key of architecture.md's list is here, plus `hang_scope`, `malformed_kind`,
`rotate_refresh_tokens`, `expired_token_status`, `refresh_reject_style`, `fail_projects`
(uuids of projects whose data routes answer 500 until it is set back to `[]`), and two
for the access-code exchange: `wrong_region_codes` (every code is answered with result
-205, as another region's code is) and `refuse_code_post` (the POST form is refused with
HTTP 400, only the legacy GET form is taken; neither spends the code). Updates are
validated as a whole before any of them applies, so a 400 leaves the settings untouched.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import uuid_key
from sandbox.rate_limit import SlidingWindowLimiter

SCOPES = ("data", "token", "all")
PHASE_BEFORE = "before"
PHASE_AFTER = "after"
LATENCY_PHASES = (PHASE_BEFORE, PHASE_AFTER)
MALFORMED_KINDS = ("not_json", "no_access_token", "bad_exp")
# How a refused refresh token is answered: HTTP 403 (result -20), HTTP 400 invalid_grant,
# HTTP 200 result -10, HTTP 200 result -206 ("token invalid or expired"), or HTTP 500 (what
# one public client reports for a corrupt token: indistinguishable from a server failure).
REJECT_STYLES = ("403", "invalid_grant", "result", "200-206", "500")
DEFAULT_RETRY_AFTER_S = 1.0
# Revizto spells uuids both ways: dashed 8-4-4-4-12 and legacy 32-hex without dashes.
UUID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.IGNORECASE
)


class FaultError(ValueError):
    """A fault update named an unknown key or gave a value of the wrong kind."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class FailNext:
    """The next `count` requests in `scope` fail with `status` (and `result` in the body)."""

    count: int
    status: int
    scope: str = "data"
    result: int | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class FaultSettings:
    """Everything a test can switch at runtime; counts go down as faults fire."""

    data_latency_ms: float = 0.0
    token_latency_ms: float = 0.0
    token_latency_phase: str = PHASE_AFTER
    fail_next: FailNext | None = None
    error_rate: float = 0.0
    rate_limit_rps: float | None = None
    retry_after_s: float = DEFAULT_RETRY_AFTER_S
    malformed_token_responses: int = 0
    malformed_kind: str = "cycle"
    hang_next: int = 0
    hang_scope: str = "all"
    revoke_refresh_tokens: bool = False
    # Paged list replies leave out `pages` (clients must end on a short page) [I].
    omit_pages: bool = False
    rotate_refresh_tokens: bool = True
    expired_token_status: int = 401
    refresh_reject_style: str = "403"
    wrong_region_codes: bool = False
    refuse_code_post: bool = False
    # Kept as uuid_key()s, so a lookup needs no normalising; a tuple keeps the settings frozen.
    fail_projects: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        settings = dataclasses.asdict(self)
        settings["fail_projects"] = list(self.fail_projects)
        return settings


class FaultState:
    """The live fault settings, shared by every request thread."""

    def __init__(self, initial: FaultSettings, seed: int) -> None:
        self._lock = threading.Lock()
        self._settings = initial
        self._malformed_sent = 0
        # Seeded, so a run with the same seed fails the same requests.
        self._error_rng = random.Random(f"{seed}:error-rate")
        self._limiter = SlidingWindowLimiter()

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def update(self, patch: Mapping[str, Any]) -> tuple[FaultSettings, bool]:
        """Apply a validated patch; returns the new settings and whether to revoke tokens."""
        changes = parse_patch(patch)
        revoke = bool(changes.pop("revoke_refresh_tokens", False))
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)
            return self._settings, revoke

    def take_fail_next(self, scope: str) -> FailNext | None:
        """Consume one injected failure if one is pending for this kind of request."""
        with self._lock:
            pending = self._settings.fail_next
            if pending is None or pending.count <= 0 or pending.scope not in (scope, "all"):
                return None
            left = dataclasses.replace(pending, count=pending.count - 1)
            self._settings = dataclasses.replace(
                self._settings, fail_next=left if left.count > 0 else None
            )
            return pending

    def take_hang(self, scope: str) -> bool:
        with self._lock:
            settings = self._settings
            if settings.hang_next <= 0 or settings.hang_scope not in (scope, "all"):
                return False
            self._settings = dataclasses.replace(settings, hang_next=settings.hang_next - 1)
            return True

    def take_malformed(self) -> str | None:
        """The kind of malformed token reply to send next, or None for a proper one."""
        with self._lock:
            settings = self._settings
            if settings.malformed_token_responses <= 0:
                return None
            self._settings = dataclasses.replace(
                settings, malformed_token_responses=settings.malformed_token_responses - 1
            )
            if settings.malformed_kind != "cycle":
                return settings.malformed_kind
            kind = MALFORMED_KINDS[self._malformed_sent % len(MALFORMED_KINDS)]
            self._malformed_sent += 1
            return kind

    def roll_error(self) -> bool:
        """True for the fraction `error_rate` of calls, from a seeded RNG (reproducible)."""
        with self._lock:
            rate = self._settings.error_rate
            return rate > 0 and self._error_rng.random() < rate

    def admit(self) -> bool:
        """False when this data request is over `rate_limit_rps`."""
        return self._limiter.admit(self.settings.rate_limit_rps)


def parse_patch(patch: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key and value of a fault update; FaultError names the first bad one."""
    if not isinstance(patch, Mapping):
        raise FaultError("body", "must be a JSON object")
    known = {f.name for f in dataclasses.fields(FaultSettings)}
    changes: dict[str, Any] = {}
    for key, value in patch.items():
        if key not in known:
            raise FaultError(key, "unknown fault setting")
        changes[key] = _PARSERS[key](key, value)
    return changes


def _number(name: str, value: Any, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultError(name, "must be a number")
    if not low <= value <= high:
        raise FaultError(name, f"must be between {low:g} and {high:g}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(name, "must be a non-negative integer")
    return value


def _choice(name: str, value: Any, options: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in options:
        raise FaultError(name, f"must be one of {', '.join(map(str, options))}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultError(name, "must be true or false")
    return value


def _rps(name: str, value: Any) -> float | None:
    if value is None or value == 0:
        return None
    return _number(name, value, low=0.0)


def _project_uuids(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FaultError(name, "must be a list of project uuids")
    for index, item in enumerate(value):
        if not isinstance(item, str) or UUID_PATTERN.fullmatch(item) is None:
            raise FaultError(name, f"item {index} is not a project uuid")
    # dict.fromkeys drops repeats (two spellings of one uuid) and keeps the caller's order.
    return tuple(dict.fromkeys(uuid_key(item) for item in value))


def _fail_next(name: str, value: Any) -> FailNext | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise FaultError(name, "must be an object with count and status")
    allowed = {"count", "status", "scope", "result", "retry_after_s"}
    extra = sorted(set(value) - allowed)
    if extra:
        raise FaultError(f"{name}.{extra[0]}", "unknown fail_next field")
    if "count" not in value or "status" not in value:
        raise FaultError(name, "needs count and status")
    status = value["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise FaultError(f"{name}.status", "must be an HTTP status between 200 and 599")
    result = value.get("result")
    if result is not None and (isinstance(result, bool) or not isinstance(result, int)):
        raise FaultError(f"{name}.result", "must be an integer result code")
    retry_after = value.get("retry_after_s")
    return FailNext(
        count=_count(f"{name}.count", value["count"]),
        status=status,
        scope=_choice(f"{name}.scope", value.get("scope", "data"), SCOPES),
        result=result,
        retry_after_s=None
        if retry_after is None
        else _number(f"{name}.retry_after_s", retry_after),
    )


_PARSERS: dict[str, Any] = {
    "data_latency_ms": lambda n, v: _number(n, v, high=600_000),
    "token_latency_ms": lambda n, v: _number(n, v, high=600_000),
    "token_latency_phase": lambda n, v: _choice(n, v, LATENCY_PHASES),
    "fail_next": _fail_next,
    "error_rate": lambda n, v: _number(n, v, high=1.0),
    "rate_limit_rps": _rps,
    "retry_after_s": lambda n, v: _number(n, v, high=3600),
    "malformed_token_responses": _count,
    "malformed_kind": lambda n, v: _choice(n, v, (*MALFORMED_KINDS, "cycle")),
    "hang_next": _count,
    "hang_scope": lambda n, v: _choice(n, v, SCOPES),
    "revoke_refresh_tokens": _flag,
    "omit_pages": _flag,
    "rotate_refresh_tokens": _flag,
    "expired_token_status": lambda n, v: _choice(n, v, (401, 200)),
    "refresh_reject_style": lambda n, v: _choice(n, v, REJECT_STYLES),
    "fail_projects": _project_uuids,
    "wrong_region_codes": _flag,
    "refuse_code_post": _flag,
}
