"""Where the data client gets its access token, and how it asks for a fresh one.

The worker plugs in the token service; tests and one-off scripts plug in a local provider.
Each token carries the generation it belongs to, so a caller that saw a 401 can say which
token failed, and a provider that has already moved on hands out the newer token instead
of spending another single-use refresh token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from revizto.errors import RefreshTokenExpired
from revizto.oauth import OAuthClient, TokenPair


@dataclass(frozen=True)
class IssuedToken:
    access_token: str = field(repr=False)
    generation: int
    expires_at: float


class TokenProvider(Protocol):
    def current_token(self) -> IssuedToken:
        """A token believed valid now."""
        ...

    def refresh_after_rejection(self, generation: int) -> IssuedToken:
        """Revizto rejected the token of `generation`: a newer one, refreshing if needed."""
        ...


class StaticTokenProvider:
    """A fixed access token that cannot be refreshed (short scripts, checks)."""

    def __init__(self, access_token: str, expires_at: float = float("inf")) -> None:
        self._token = IssuedToken(access_token=access_token, generation=1, expires_at=expires_at)

    def current_token(self) -> IssuedToken:
        return self._token

    def refresh_after_rejection(self, generation: int) -> IssuedToken:
        raise RefreshTokenExpired("a static access token cannot be refreshed")


class LocalRefreshingProvider:
    """Holds one token pair in memory and refreshes it itself, one refresh per generation.

    For a single process only (tests, benchmarks); the services share a credential through
    the token service instead.
    """

    def __init__(self, oauth: OAuthClient, pair: TokenPair) -> None:
        self._oauth = oauth
        self._pair = pair
        self._generation = 1
        self._lock = threading.Lock()
        self.refreshes = 0

    def current_token(self) -> IssuedToken:
        with self._lock:
            return self._issued()

    def refresh_after_rejection(self, generation: int) -> IssuedToken:
        with self._lock:
            if generation == self._generation:
                refresh_token = self._pair.refresh_token
                if refresh_token is None:
                    raise RefreshTokenExpired("no refresh token to refresh with")
                new_pair = self._oauth.refresh(refresh_token)
                self._pair = TokenPair(
                    access_token=new_pair.access_token,
                    refresh_token=new_pair.refresh_token or refresh_token,
                    expires_at=new_pair.expires_at,
                    requested_at=new_pair.requested_at,
                )
                self._generation += 1
                self.refreshes += 1
            return self._issued()

    def _issued(self) -> IssuedToken:
        return IssuedToken(
            access_token=self._pair.access_token,
            generation=self._generation,
            expires_at=self._pair.expires_at,
        )
