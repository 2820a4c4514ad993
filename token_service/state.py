"""TokenStore: the live credential in Redis, the only source of truth while Redis has it.

Keys (prefix `rxp:token:`):
  state     hash  access_token, refresh_token, expires_at, issued_at, generation,
                  refresh_token_issued_at, updated_at, installed_at
  reauth    hash  reason, since, detail   (present = a human must re-authenticate)
  inflight  hash  generation, refresh_token_fp, owner, started_at
                  (present = a refresh was sent and its outcome is not known)
  failing   hash  refresh_token_fp, requests, rounds, first_at, next_at
                  (present = refreshes of that token keep getting ambiguous HTTP 5xx)
  lock      str   the RefreshLock owner
Rotations are written with a compare on the refresh token that was sent, so a refresher
whose lock lease expired can never overwrite a newer pair (guarantee 4). The tokens are
stored as `Sealer` makes them (encrypted when TOKEN_ENCRYPTION_KEY is set); compares are on
the stored form, which a reader keeps in `TokenState.stored_refresh_token`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

import redis

from revizto.oauth import TokenPair
from service_common.redaction import SECRETS, fingerprint
from token_service.sealing import Sealer

# KEYS: state, inflight, reauth, failing. ARGV: expected refresh token (as stored), then
# field/value pairs. A successful rotation also proves the credential alive, so any re-auth
# flag raised by a refresher that lost a race for the same token is cleared.
_COMMIT_ROTATION = """
if redis.call('HGET', KEYS[1], 'refresh_token') ~= ARGV[1] then
    return false
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return redis.call('HINCRBY', KEYS[1], 'generation', 1)
"""

# KEYS: state, reauth. ARGV: refresh token that was refused, reason, since, detail.
# Only a refusal of the credential still stored counts: one refused while somebody
# installed a new credential (or rotated past it) says nothing about the current one.
_ENTER_REAUTH = """
local stored = redis.call('HGET', KEYS[1], 'refresh_token')
if stored and stored ~= ARGV[1] then
    return -1
end
if redis.call('HSETNX', KEYS[2], 'reason', ARGV[2]) == 0 then
    return 0
end
redis.call('HSET', KEYS[2], 'since', ARGV[3], 'detail', ARGV[4])
return 1
"""

# KEYS: inflight. ARGV: owner. Deletes the record only while it is this owner's.
_CLEAR_INFLIGHT_IF_OWNER = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: state. ARGV: field/value pairs (generation among them). Only into an empty slot.
_INITIALIZE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS: state, reauth, inflight, failing. ARGV: lowest acceptable generation, then
# field/value pairs. Replaces whatever was there; the generation only ever moves forward,
# past the floor too (the file's generation, when Redis lost its data).
_INSTALL = """
local current = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
local floor = tonumber(ARGV[1])
if floor > current then current = floor end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('HSET', KEYS[1], 'generation', current + 1)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return current + 1
"""

# KEYS: state. ARGV: expected refresh token (as stored), then field/value pairs. Rewrites
# fields of the credential only while it is still that one (sealing a plaintext state).
_REWRITE_IF_CURRENT = """
if redis.call('HGET', KEYS[1], 'refresh_token') ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


@dataclass(frozen=True)
class TokenState:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)  # "" when there is none
    expires_at: float
    issued_at: float
    generation: int
    refresh_token_issued_at: float
    updated_at: float
    # When a person last installed this credential chain (access code or refresh token);
    # rotations keep it. 0 when unknown (a state written before it was recorded).
    installed_at: float = 0.0
    # The refresh token as Redis holds it (sealed or not): what compare-and-set runs on.
    stored_refresh_token: str = field(default="", repr=False)

    @property
    def lifetime(self) -> float:
        return max(0.0, self.expires_at - self.issued_at)

    def seconds_left(self, now: float) -> float:
        return self.expires_at - now


@dataclass(frozen=True)
class ReauthState:
    reason: str
    since: float
    detail: str


@dataclass(frozen=True)
class InFlight:
    generation: int
    refresh_token_fp: str
    owner: str
    started_at: float


@dataclass(frozen=True)
class Failing:
    """Refreshes of one refresh token that keep getting HTTP 5xx: how many requests, over
    how long, and when the next attempt is allowed (the back-off every replica honours)."""

    refresh_token_fp: str
    requests: int
    rounds: int
    first_at: float
    next_at: float


@dataclass(frozen=True)
class Snapshot:
    state: TokenState | None
    reauth: ReauthState | None
    inflight: InFlight | None
    failing: Failing | None = None


class ReauthOutcome(Enum):
    RAISED = 1  # this caller raised the flag (and logs the operator's line)
    ALREADY = 0  # somebody else had raised it
    MOVED_ON = -1  # the refused token is no longer the stored one: a lost race


class TokenStore:
    def __init__(self, client: redis.Redis, prefix: str, sealer: Sealer | None = None) -> None:
        self.client = client
        self.sealer = sealer or Sealer()
        self.state_key = prefix + "state"
        self.reauth_key = prefix + "reauth"
        self.inflight_key = prefix + "inflight"
        self.failing_key = prefix + "failing"
        self.lock_key = prefix + "lock"
        self._commit = client.register_script(_COMMIT_ROTATION)
        self._initialize = client.register_script(_INITIALIZE)
        self._install = client.register_script(_INSTALL)
        self._enter_reauth = client.register_script(_ENTER_REAUTH)
        self._clear_inflight = client.register_script(_CLEAR_INFLIGHT_IF_OWNER)
        self._rewrite = client.register_script(_REWRITE_IF_CURRENT)

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """State, re-auth, in-flight and failing records in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for key in (self.state_key, self.reauth_key, self.inflight_key, self.failing_key):
            pipe.hgetall(key)
        state, reauth, inflight, failing = pipe.execute()
        return Snapshot(self._state(state), _reauth(reauth), _inflight(inflight), _failing(failing))

    def load(self) -> TokenState | None:
        raw: dict[str, str] = self.client.hgetall(self.state_key)  # type: ignore[assignment]
        return self._state(raw)

    # -- writing ---------------------------------------------------------------------------

    def initialize(self, state: TokenState) -> bool:
        """Seed an empty store (from appsettings.json or an access code); False if not empty."""
        SECRETS.register(state.access_token, state.refresh_token)
        fields = [
            "access_token", self.sealer.seal(state.access_token),
            "refresh_token", self.sealer.seal(state.refresh_token),
            "expires_at", repr(state.expires_at),
            "issued_at", repr(state.issued_at),
            "generation", str(state.generation),
            "refresh_token_issued_at", repr(state.refresh_token_issued_at),
            "updated_at", repr(state.updated_at),
            "installed_at", repr(state.installed_at),
        ]  # fmt: skip
        return bool(self._initialize(keys=[self.state_key], args=fields))

    def commit_rotation(self, sent: TokenState, pair: TokenPair, now: float) -> int | None:
        """Store a refreshed pair if the refresh token of `sent` is still the stored one.

        A missing `pair.refresh_token` means Revizto did not rotate: the old one stays.
        Returns the new generation, or None when the state moved on meanwhile.
        """
        SECRETS.register(pair.access_token, pair.refresh_token)
        refresh_token = pair.refresh_token or sent.refresh_token
        # Rotated or not, the refresh token has just proved alive: that resets its age,
        # which is what the staleness alert watches (Revizto's die after a month unused).
        fields = self._pair_fields(pair, refresh_token, now)
        result = self._commit(
            keys=[self.state_key, self.inflight_key, self.reauth_key, self.failing_key],
            args=[sent.stored_refresh_token, *fields],
        )
        return int(result) if result is not None else None

    def install(
        self,
        pair: TokenPair,
        refresh_token: str,
        now: float,
        *,
        generation_floor: int = 0,
        installed_at: float | None = None,
    ) -> int:
        """Replace the credential outright and clear re-auth, in-flight and failing records.

        The new generation is above both the stored one and `generation_floor`. A person
        installing it makes `now` its installation time; a credential adopted from
        appsettings.json keeps the time the file recorded (`installed_at`).
        """
        SECRETS.register(pair.access_token, refresh_token)
        fields = [
            *self._pair_fields(pair, refresh_token, now),
            "installed_at",
            repr(now if installed_at is None else installed_at),
        ]
        return int(
            self._install(
                keys=[self.state_key, self.reauth_key, self.inflight_key, self.failing_key],
                args=[generation_floor, *fields],
            )
        )

    def reseal(self, state: TokenState) -> bool:
        """Rewrite `state`'s tokens with the current key (plaintext, or an old key's), if
        it is still the stored credential; False when it moved on meanwhile."""
        fields = [
            "access_token", self.sealer.seal(state.access_token),
            "refresh_token", self.sealer.seal(state.refresh_token),
        ]  # fmt: skip
        return bool(
            self._rewrite(keys=[self.state_key], args=[state.stored_refresh_token, *fields])
        )

    def stamp_installed_at(self, state: TokenState, installed_at: float) -> bool:
        """Record an installation time for a credential stored before it was tracked."""
        args = [state.stored_refresh_token, "installed_at", repr(installed_at)]
        return bool(self._rewrite(keys=[self.state_key], args=args))

    def record_inflight(self, generation: int, refresh_token: str, owner: str) -> None:
        self.client.hset(
            self.inflight_key,
            mapping={
                "generation": generation,
                "refresh_token_fp": fingerprint(refresh_token),
                "owner": owner,
                "started_at": repr(time.time()),
            },
        )

    def clear_inflight(self, owner: str) -> None:
        """Forget our in-flight record (never a successor's)."""
        self._clear_inflight(keys=[self.inflight_key], args=[owner])

    def record_failing(self, failing: Failing) -> None:
        """Written under the refresh lock, so a plain write is enough; a rotation or an
        installation deletes it in the same script that changes the credential."""
        self.client.hset(
            self.failing_key,
            mapping={
                "refresh_token_fp": failing.refresh_token_fp,
                "requests": failing.requests,
                "rounds": failing.rounds,
                "first_at": repr(failing.first_at),
                "next_at": repr(failing.next_at),
            },
        )

    def enter_reauth(self, refused: TokenState | None, reason: str, detail: str) -> ReauthOutcome:
        """Raise the re-auth flag for the stored credential, if it is the one Revizto
        refused (`refused` None: there is no credential at all)."""
        stored = refused.stored_refresh_token if refused is not None else ""
        raised = self._enter_reauth(
            keys=[self.state_key, self.reauth_key],
            args=[stored, reason, repr(time.time()), detail[:300]],
        )
        return ReauthOutcome(int(raised))

    # -- the stored form ---------------------------------------------------------------------

    def _pair_fields(self, pair: TokenPair, refresh_token: str, now: float) -> list[str]:
        """HSET arguments for a pair whose refresh token was issued or proved alive `now`."""
        return [
            "access_token", self.sealer.seal(pair.access_token),
            "refresh_token", self.sealer.seal(refresh_token),
            "expires_at", repr(pair.expires_at),
            "issued_at", repr(pair.requested_at),
            "refresh_token_issued_at", repr(now),
            "updated_at", repr(now),
        ]  # fmt: skip

    def _state(self, raw: dict[str, str]) -> TokenState | None:
        if not raw or "access_token" not in raw:
            return None
        stored_refresh = raw.get("refresh_token", "")
        access_token = self.sealer.open(raw["access_token"])
        refresh_token = self.sealer.open(stored_refresh)
        SECRETS.register(access_token, refresh_token)
        return TokenState(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=float(raw.get("expires_at", 0)),
            issued_at=float(raw.get("issued_at", 0)),
            generation=int(raw.get("generation", 0)),
            refresh_token_issued_at=float(raw.get("refresh_token_issued_at", 0)),
            updated_at=float(raw.get("updated_at", 0)),
            installed_at=float(raw.get("installed_at", 0)),
            stored_refresh_token=stored_refresh,
        )


def _reauth(raw: dict[str, str]) -> ReauthState | None:
    if not raw or "reason" not in raw:
        return None
    return ReauthState(
        reason=raw["reason"], since=float(raw.get("since", 0)), detail=raw.get("detail", "")
    )


def _inflight(raw: dict[str, str]) -> InFlight | None:
    if not raw or "owner" not in raw:
        return None
    return InFlight(
        generation=int(raw.get("generation", 0)),
        refresh_token_fp=raw.get("refresh_token_fp", ""),
        owner=raw["owner"],
        started_at=float(raw.get("started_at", 0)),
    )


def _failing(raw: dict[str, str]) -> Failing | None:
    if not raw or "refresh_token_fp" not in raw:
        return None
    return Failing(
        refresh_token_fp=raw["refresh_token_fp"],
        requests=int(raw.get("requests", 0)),
        rounds=int(raw.get("rounds", 0)),
        first_at=float(raw.get("first_at", 0)),
        next_at=float(raw.get("next_at", 0)),
    )
