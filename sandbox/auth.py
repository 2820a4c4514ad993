"""The token authority: access codes, JWT access tokens and single-use rotating refresh tokens.

Models Revizto's legacy flow (docs/revizto-api.md §2a-§2c): an access code (15 minutes,
single use) buys a token pair; a refresh token buys a new pair once and is dead afterwards,
unless rotation is switched off. A reused refresh token is remembered as used, so the
sandbox can tell a client that burned its credential twice from one that sent garbage.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jwt

# Refresh tokens and access codes look like PHP league/oauth2-server output
# (docs/revizto-api.md §2c).
OPAQUE_PREFIX = "def50200"
ACCESS_CODE_LIFETIME_S = 15 * 60
REFRESH_TOKEN_LIFETIME_S = 30 * 86400
JWT_ALGORITHM = "HS256"


class Rejection(Enum):
    """Why a grant was refused."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenPair:
    """A successful grant; `refresh_token` is None when rotation is off."""

    access_token: str
    refresh_token: str | None
    expires_in: float


@dataclass
class _RefreshRecord:
    expires_at: float
    state: str = "live"


def opaque_secret() -> str:
    """A fresh `def50200…` string, the shape of Revizto's codes and refresh tokens."""
    return OPAQUE_PREFIX + secrets.token_hex(160)


class TokenAuthority:
    """Issues and checks every credential the sandbox knows; safe to share between threads."""

    def __init__(self, *, subject: str, issuer: dict[str, Any], lifetime_s: float) -> None:
        self.subject = subject
        self.issuer = json.dumps(issuer, separators=(",", ":"))
        self.lifetime_s = lifetime_s
        # A per-process key: a restarted sandbox has forgotten every token, like a new region.
        self._key = secrets.token_bytes(32)
        self.client_id = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._codes: dict[str, float] = {}
        self._used_codes: set[str] = set()
        self._refresh: dict[str, _RefreshRecord] = {}
        self._access_tokens: list[str] = []
        self._issued_lock = threading.Lock()  # separate: minting happens under self._lock

    # --- access codes -------------------------------------------------------------------

    def mint_access_code(self) -> str:
        code = opaque_secret()
        with self._lock:
            self._codes[code] = time.time() + ACCESS_CODE_LIFETIME_S
        return code

    def register_access_code(self, code: str) -> None:
        """Pre-register a code from the command line; it stays valid until used."""
        with self._lock:
            self._codes[code] = float("inf")

    def redeem_code(self, code: str) -> TokenPair | Rejection:
        """Spend an access code on a token pair."""
        with self._lock:
            expires_at = self._codes.pop(code, None)
            if expires_at is None:
                return Rejection.USED if code in self._used_codes else Rejection.UNKNOWN
            self._used_codes.add(code)
            if expires_at < time.time():
                return Rejection.EXPIRED
            return self._issue_pair(rotate=True)

    # --- refresh tokens -----------------------------------------------------------------

    def redeem_refresh(self, token: str, *, rotate: bool) -> TokenPair | Rejection:
        """Spend a refresh token; with `rotate` it dies and a successor is issued."""
        with self._lock:
            record = self._refresh.get(token)
            if record is None:
                return Rejection.UNKNOWN
            if record.state == "used":
                return Rejection.USED
            if record.state == "revoked":
                return Rejection.REVOKED
            if record.expires_at < time.time():
                return Rejection.EXPIRED
            if rotate:
                record.state = "used"
            return self._issue_pair(rotate=rotate)

    def revoke_refresh_tokens(self) -> int:
        """Kill every live refresh token issued so far; returns how many died."""
        with self._lock:
            live = [record for record in self._refresh.values() if record.state == "live"]
            for record in live:
                record.state = "revoked"
            return len(live)

    def _issue_pair(self, *, rotate: bool) -> TokenPair:
        refresh = None
        if rotate:
            refresh = opaque_secret()
            self._refresh[refresh] = _RefreshRecord(time.time() + REFRESH_TOKEN_LIFETIME_S)
        return TokenPair(self.mint_access_token(), refresh, self.lifetime_s)

    # --- access tokens ------------------------------------------------------------------

    def mint_access_token(self, *, exp_override: Any = None) -> str:
        """A JWT with Revizto's claims; float times with microseconds, as the real ones."""
        now = round(time.time(), 6)
        claims = {
            "aud": self.client_id,
            "jti": secrets.token_hex(40),
            "iat": now,
            "nbf": now,
            "exp": round(now + self.lifetime_s, 6) if exp_override is None else exp_override,
            "sub": self.subject,
            "scopes": ["openApi"],
            "iss": self.issuer,
        }
        token = jwt.encode(
            claims, self._key, algorithm=JWT_ALGORITHM, headers={"kid": str(uuid.uuid4())}
        )
        with self._issued_lock:
            self._access_tokens.append(token)
        return token

    def issued_secrets(self) -> dict[str, list[str]]:
        """Every secret handed out so far, so a test can prove none of them leaked."""
        with self._lock, self._issued_lock:
            return {
                "access_tokens": list(self._access_tokens),
                "refresh_tokens": list(self._refresh),
                "access_codes": sorted(set(self._codes) | self._used_codes),
            }

    def access_token_valid(self, token: str) -> bool:
        """True for a token this process signed whose float `exp` is still ahead."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                audience=self.client_id,
                # PyJWT truncates float times to whole seconds; compare exp precisely below.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return False
        exp = claims.get("exp")
        return isinstance(exp, int | float) and not isinstance(exp, bool) and exp > time.time()
