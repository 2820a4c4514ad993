"""TokenManager: hands out the shared access token and refreshes it, exactly once per rotation.

The refresh state machine is the subtle part of this product. Revizto's refresh tokens
are single-use: a second refresh with the same token gets HTTP 403 and the integration
is dead until a human pastes a new access code. So:

  1. Single flight, twice: in-process (SingleFlight: concurrent callers share the one
     refresh of a generation), then a Redis lock shared by replicas. After taking the
     lock the state is re-read; if the generation moved, somebody else refreshed and
     the caller simply gets the new token (guarantees 1, 2).
  2. Before the token call, an in-flight record (generation, refresh-token fingerprint,
     lock owner) goes to Redis. A successor that finds one left behind by a crash knows
     the refresh token may already be spent: it tries it once, and a rejection then means
     `rotation_lost`, not a retry loop that hammers Revizto (guarantee 5).
  3. The new pair is stored with a compare on the refresh token that was sent, bumping the
     generation, before anyone sees it; then it is mirrored to appsettings.json (3, 9).
  4. A rejected refresh token raises the re-auth state in Redis: no more calls to Revizto,
     the current access token is served while it lasts, then 503 (guarantee 6). Revizto
     refuses in several shapes (HTTP 403, 400 invalid_grant, 200 with result -10/-20/-206:
     revizto/oauth.py), and one is ambiguous: an HTTP 5xx may be a failing server or a
     corrupt token. Those refreshes back off (a `failing` record every replica honours)
     and the token is declared dead (`refresh_failing`) only once the failures persisted
     for TOKEN_REFRESH_FAILING_ATTEMPTS requests and TOKEN_REFRESH_FAILING_SECONDS while
     Revizto's other endpoints answer. Before declaring, the store checks the refused token
     is still the stored one: a refusal of a token somebody already replaced is a lost race.

Every failure carries a FailureReason (token_service/reasons.py): the same word in the
exception, the problem reply, the metrics label and the log line.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import redis

from revizto.errors import (
    AccessCodeRejected,
    AccessCodeWrongRegion,
    MalformedTokenResponse,
    OAuthError,
    RateLimited,
    RefreshTokenExpired,
    RequestTimeout,
    ReviztoError,
    ServerError,
    TransientError,
)
from revizto.expiry import jwt_expiry
from revizto.oauth import OAuthClient, TokenPair
from service_common.redaction import fingerprint
from token_service import defaults
from token_service.appsettings import AppSettingsFile, AppSettingsInvalid
from token_service.config import Settings
from token_service.failing import FailingPolicy
from token_service.lock import RefreshLock
from token_service.metrics import TokenMetrics
from token_service.reasons import FailureReason
from token_service.single_flight import FlightTimeout, SingleFlight
from token_service.state import (
    Failing,
    ReauthOutcome,
    ReauthState,
    Snapshot,
    TokenState,
    TokenStore,
)

log = logging.getLogger(__name__)

# The three lines operators grep for (from the seed document); keep them recognisable.
LOG_REFRESHING = "Access token is expired or will expire soon. Refreshing..."
LOG_REFRESHED = "Access token successfully refreshed. New refresh token provided: %s"
LOG_REAUTH = "Refresh token appears to be expired or invalid. Re-authentication required."

ASSUMED_LIFETIME_SECONDS = 3600.0  # Revizto's, for a file token whose issue time is unknown


class ReauthRequired(Exception):
    """A human must install new credentials; `reason` (a FailureReason, or one read back
    from Redis) says why."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"re-authentication required ({reason})")
        self.reason = str(reason)
        self.detail = detail


class TokenUnavailable(Exception):
    """No usable token right now, but it may come back without a human (retry later)."""

    def __init__(self, reason: FailureReason, retry_after: float = 1.0) -> None:
        super().__init__(f"no usable access token ({reason})")
        self.reason = str(reason)
        self.retry_after = retry_after


class CredentialRefused(Exception):
    """A refresh token offered for installation was refused by Revizto: nothing changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Revizto refused the refresh token offered ({detail})")
        self.detail = detail


def _transient_reason(error: TransientError) -> FailureReason:
    if isinstance(error, RequestTimeout):
        return FailureReason.TIMEOUT
    if isinstance(error, RateLimited):
        return FailureReason.RATE_LIMITED
    if isinstance(error, ServerError):
        return FailureReason.SERVER_ERROR
    return FailureReason.NETWORK


class _Spend:
    """What spending a refresh token did: whether any attempt's fate is unknown (a timeout
    or a 5xx may have rotated the token at Revizto), and how many attempts got a 5xx."""

    def __init__(self, suspect: bool) -> None:
        self.uncertain = suspect
        self.server_errors = 0


class TokenManager:
    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        oauth: OAuthClient,
        mirror: AppSettingsFile,
        metrics: TokenMetrics,
        *,
        revizto_answers: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.oauth = oauth
        self.mirror = mirror
        self.metrics = metrics
        # Asked only when an ambiguous refusal persisted: does the rest of Revizto answer?
        self._revizto_answers = revizto_answers
        self._failing_policy = FailingPolicy(
            settings.refresh_failing_attempts, settings.refresh_failing_seconds
        )
        self._clock = clock
        # One refresh per generation in this process; replicas meet at the Redis lock.
        self._refreshes: SingleFlight[TokenState] = SingleFlight("refresh")
        self._bootstraps: SingleFlight[None] = SingleFlight("bootstrap")

    # -- policy ------------------------------------------------------------------------------

    def refresh_due_at(self, state: TokenState) -> float:
        """When to refresh proactively: `min(threshold, lifetime/2)` before expiry, minus a
        per-token jitter (the same for every caller and replica, so they agree)."""
        window = min(self.settings.refresh_threshold, state.lifetime / 2)
        digest = hashlib.sha256(state.access_token.encode()).digest()
        unit = int.from_bytes(digest[:4], "big") / 2**32
        return state.expires_at - window * (1 - defaults.REFRESH_JITTER_FRACTION * unit)

    def usable(self, state: TokenState, now: float | None = None) -> bool:
        """Enough life left for a caller to finish a request with it."""
        now = self._clock() if now is None else now
        margin = min(defaults.MIN_USABLE_SECONDS, state.lifetime * defaults.MIN_USABLE_FRACTION)
        return bool(state.access_token) and state.seconds_left(now) > margin

    # -- the two ways callers ask ------------------------------------------------------------

    def get_token(self) -> TokenState:
        """The current token, refreshed first when it is inside the refresh window."""
        snapshot, state = self._snapshot()
        if snapshot.reauth is not None:
            return self._serve_while_valid(state, snapshot.reauth)
        if self._clock() < self.refresh_due_at(state):
            return state
        usable = self.usable(state)
        # A caller whose token is still good waits only a moment for the refresh: a quick
        # one hands everybody the new token, a slow one must not stall the workers.
        wait = min(defaults.PROACTIVE_WAIT_SECONDS, self.settings.lock_wait) if usable else None
        try:
            return self._refresh("proactive", state.generation, wait=wait)
        except (TokenUnavailable, ReauthRequired):
            # Keep callers working on the current token while it lasts (guarantee 6, 8).
            latest = self.store.load()
            if latest is not None and self.usable(latest):
                return latest
            raise

    def refresh_after_rejection(self, generation: int) -> TokenState:
        """A caller's token of `generation` got a 401: refresh only if it is still current."""
        snapshot, state = self._snapshot()
        if generation != state.generation:
            # Somebody already rotated past the rejected token: hand out the newer one.
            return self.get_token()
        if snapshot.reauth is not None:
            raise ReauthRequired(snapshot.reauth.reason, snapshot.reauth.detail)
        return self._refresh("reactive", generation)

    # -- re-authentication -------------------------------------------------------------------

    def install_access_code(self, code: str) -> TokenState:
        """Exchange a fresh Revizto access code and make it the credential (no restart)."""
        pair = self.oauth.exchange_access_code(code)
        if pair.refresh_token is None:
            raise MalformedTokenResponse("access-code exchange returned no refresh token")
        return self._install(pair, pair.refresh_token)

    def install_refresh_token(self, refresh_token: str) -> TokenState:
        """Install a refresh token a person offers, only if Revizto takes it.

        A typo must not replace a working credential, so the token is tried first: one
        refresh with it, whose new pair is what gets installed. A refusal raises
        CredentialRefused and a failure to reach Revizto its TransientError; either way
        the stored credential is untouched and still served.
        """
        try:
            pair = self.oauth.refresh(refresh_token)
        except RefreshTokenExpired as exc:
            log.warning(
                "refresh token offered for installation refused refresh_token=%s error=%s; "
                "the current credential is kept",
                fingerprint(refresh_token),
                exc,
            )
            raise CredentialRefused(str(exc)) from None
        return self._install(pair, pair.refresh_token or refresh_token)

    def _install(self, pair: TokenPair, refresh_token: str) -> TokenState:
        # Above the file's generation too, or a Redis that lost its data would start
        # again at 1 and every mirror would be refused as older than the file.
        generation = self.store.install(
            pair, refresh_token, self._clock(), generation_floor=self._file_generation()
        )
        state = self._stored()
        log.info(
            "credentials installed generation=%d access_token=%s refresh_token=%s",
            generation,
            fingerprint(state.access_token),
            fingerprint(refresh_token),
        )
        self._mirror(state, clear_api_key=True)
        return state

    def _file_generation(self) -> int:
        try:
            stored = self.mirror.read()
        except (OSError, AppSettingsInvalid):
            return 0
        return stored.generation if stored is not None else 0

    # -- start-up ----------------------------------------------------------------------------

    def adopt_newer_file(self) -> None:
        """At start-up: if appsettings.json holds a newer generation than Redis, Redis lost
        its last writes (it persists every second) and the file's refresh token is the live
        one; take it, so the next refresh does not spend a dead token."""
        state = self.store.load()
        try:
            stored = self.mirror.read()
        except (OSError, AppSettingsInvalid):
            return
        if state is None or stored is None or not stored.refresh_token:
            return
        if stored.generation <= state.generation:
            return
        with _RedisLockWait(self, "bootstrap", None):
            state = self.store.load()
            if state is None or stored.generation <= state.generation:
                return
            expires_at = jwt_expiry(stored.access_token, now=self._clock()) or 0.0
            pair = TokenPair(
                access_token=stored.access_token,
                refresh_token=stored.refresh_token,
                expires_at=expires_at,
                requested_at=expires_at - ASSUMED_LIFETIME_SECONDS if expires_at else self._clock(),
            )
            # Redis held generation < file's; install() lands one above what Redis had,
            # and the floor puts it exactly on the file's.
            generation = self.store.install(
                pair,
                stored.refresh_token,
                self._clock(),
                generation_floor=stored.generation - 1,
                installed_at=stored.installed_at,
            )
            log.warning(
                "Redis was behind appsettings generation=%d file_generation=%d; adopted the file",
                state.generation,
                generation,
            )

    def rebootstrap_if_lost(self) -> bool:
        """Bootstrap when Redis holds neither a credential nor a re-auth flag (it lost its
        data); True when it did. A re-auth flag is a person's to clear, so it is left."""
        snapshot = self.store.snapshot()
        if snapshot.state is not None or snapshot.reauth is not None:
            return False
        self.bootstrap()
        self.stamp_unknown_installation()
        return self.store.load() is not None

    def stamp_unknown_installation(self) -> None:
        """A credential stored before installation times were recorded counts from now,
        so the credential-age gauge exists (and errs on the late side)."""
        state = self.store.load()
        if state is None or state.installed_at > 0:
            return
        if self.store.stamp_installed_at(state, self._clock()):
            log.warning(
                "credential installation time unknown generation=%d; counting its age from now",
                state.generation,
            )

    def bootstrap(self) -> None:
        """Seed an empty Redis from appsettings.json (exchanging its ApiKey if needed).

        A file is only ever read when Redis holds no state, so a stale file cannot roll a
        newer Redis credential back.
        """
        if self.store.load() is not None:
            return
        try:
            self._bootstraps.run("bootstrap", self._bootstrap_once, timeout=self.settings.lock_wait)
        except FlightTimeout:
            raise TokenUnavailable(FailureReason.LOCK_TIMEOUT) from None

    def _bootstrap_once(self) -> None:
        with _RedisLockWait(self, "bootstrap", None) as lock:
            if self.store.load() is not None:
                return
            self._bootstrap_locked(lock)

    def _bootstrap_locked(self, lock: RefreshLock) -> None:
        try:
            stored = self.mirror.read()
        except (OSError, AppSettingsInvalid) as exc:
            log.error("cannot read appsettings path=%s error=%s", self.mirror.path, exc)
            stored = None
        now = self._clock()
        if stored is not None and stored.refresh_token:
            expires_at = jwt_expiry(stored.access_token, now=now) if stored.access_token else None
            if expires_at is None:
                expires_at = stored.expires_at or 0.0
            state = TokenState(
                access_token=stored.access_token,
                refresh_token=stored.refresh_token,
                expires_at=expires_at,
                issued_at=expires_at - ASSUMED_LIFETIME_SECONDS,
                generation=max(1, stored.generation),
                refresh_token_issued_at=stored.refresh_token_issued_at or now,
                updated_at=now,
                # A file this service wrote says when the chain was installed; a token a
                # person pasted into the file is being installed now.
                installed_at=stored.installed_at or now,
            )
            if self.store.initialize(state):
                log.info(
                    "credential loaded from appsettings path=%s generation=%d refresh_token=%s",
                    self.mirror.path,
                    state.generation,
                    fingerprint(state.refresh_token),
                )
            return
        if stored is not None and stored.api_key:
            log.info("exchanging the ApiKey access code from appsettings path=%s", self.mirror.path)
            try:
                pair = self.oauth.exchange_access_code(stored.api_key)
            except AccessCodeWrongRegion as exc:
                self._enter_reauth(None, FailureReason.WRONG_REGION, str(exc), LOG_REAUTH)
                return
            except AccessCodeRejected as exc:
                self._enter_reauth(None, FailureReason.ACCESS_CODE_REJECTED, str(exc), LOG_REAUTH)
                return
            except ReviztoError as exc:
                log.error("access-code exchange failed error=%s; will try again", exc)
                return
            if pair.refresh_token is None:
                log.error("access-code exchange returned no refresh token; will try again")
                return
            initial = TokenState(
                access_token=pair.access_token,
                refresh_token=pair.refresh_token,
                expires_at=pair.expires_at,
                issued_at=pair.requested_at,
                generation=stored.generation + 1,
                refresh_token_issued_at=now,
                updated_at=now,
                installed_at=now,
            )
            if self.store.initialize(initial):
                log.info(
                    "access code exchanged generation=%d refresh_token=%s",
                    initial.generation,
                    fingerprint(pair.refresh_token),
                )
                self._mirror(initial, clear_api_key=True)
            return
        self._enter_reauth(
            None,
            FailureReason.NO_CREDENTIALS,
            f"{self.mirror.path} has neither RefreshToken nor ApiKey",
            "No Revizto credentials configured. Re-authentication required.",
        )

    # -- the refresh state machine ------------------------------------------------------------

    def _snapshot(self) -> tuple[Snapshot, TokenState]:
        """The stored records and the credential, bootstrapping an empty store first."""
        snapshot = self.store.snapshot()
        if snapshot.state is None and snapshot.reauth is None:
            self.bootstrap()
            snapshot = self.store.snapshot()
        if snapshot.state is None:
            if snapshot.reauth is None:
                # The start-up exchange failed for a reason that may pass (Revizto down):
                # not a human's problem yet.
                raise TokenUnavailable(FailureReason.BOOTSTRAP_PENDING, retry_after=5.0)
            raise ReauthRequired(snapshot.reauth.reason, snapshot.reauth.detail)
        return snapshot, snapshot.state

    def _stored(self) -> TokenState:
        """The credential just written or known to be there."""
        state = self.store.load()
        if state is None:
            # Only a Redis flushed between our write and this read gets here.
            raise TokenUnavailable(FailureReason.BOOTSTRAP_PENDING, retry_after=1.0)
        return state

    def _serve_while_valid(self, state: TokenState, reauth: ReauthState) -> TokenState:
        if self.usable(state):
            return state
        raise ReauthRequired(reauth.reason, reauth.detail)

    def _refresh(
        self, trigger: str, seen_generation: int, *, wait: float | None = None
    ) -> TokenState:
        """One refresh of `seen_generation`, however many threads ask for it at once;
        the caller waits `wait` seconds for it (default: as long as the lock allows)."""

        def lead() -> TokenState:
            return self._lead_refresh(trigger, seen_generation)

        try:
            if wait is None:
                # A little beyond lock_wait: the refresh itself times out on the lock first.
                return self._refreshes.run_inline(
                    seen_generation, lead, timeout=self.settings.lock_wait + 1.0
                )
            # A caller that may give up leaves the refresh to a thread of its own.
            return self._refreshes.launch(seen_generation, lead).result(wait)
        except FlightTimeout:
            # Not a failure (the refresh goes on and counts its own outcome).
            raise TokenUnavailable(FailureReason.REFRESH_IN_PROGRESS) from None

    def _lead_refresh(self, trigger: str, seen_generation: int) -> TokenState:
        try:
            with _RedisLockWait(self, trigger, seen_generation) as lock:
                return self._refresh_locked(trigger, seen_generation, lock)
        except _AlreadyRefreshed as done:
            return done.state

    def _refresh_locked(self, trigger: str, seen_generation: int, lock: RefreshLock) -> TokenState:
        snapshot = self.store.snapshot()  # re-read: the lock holder before us may have won
        state = snapshot.state
        if state is None:
            raise ReauthRequired(FailureReason.NO_CREDENTIALS)
        if state.generation != seen_generation:
            return state
        if snapshot.reauth is not None:
            raise ReauthRequired(snapshot.reauth.reason, snapshot.reauth.detail)
        if not state.refresh_token:
            reason = FailureReason.NO_REFRESH_TOKEN
            self._enter_reauth(state, reason, "no refresh token stored", LOG_REAUTH)
            raise ReauthRequired(reason)
        if lock.remaining_seconds() < self.settings.lock_lease / 2:
            # Guarantee 4: never start a refresh that might outlive the lease.
            self.metrics.failed(trigger, FailureReason.LOCK_TIMEOUT)
            raise TokenUnavailable(FailureReason.LOCK_TIMEOUT)
        failing = self._failing_for(state, snapshot)
        now = self._clock()
        if failing is not None and now < failing.next_at:
            # Backing off after ambiguous failures: not an attempt, so not counted.
            raise TokenUnavailable(FailureReason.REFRESH_PAUSED, failing.next_at - now)

        if snapshot.inflight is not None:
            log.warning(
                "unfinished refresh found generation=%d refresh_token=%s started_at=%.3f; "
                "it may have been spent, trying it once",
                snapshot.inflight.generation,
                snapshot.inflight.refresh_token_fp,
                snapshot.inflight.started_at,
            )
        log.info(
            "%s trigger=%s generation=%d expires_in_s=%.1f refresh_token=%s",
            LOG_REFRESHING,
            trigger,
            state.generation,
            state.seconds_left(now),
            fingerprint(state.refresh_token),
        )
        self.store.record_inflight(state.generation, state.refresh_token, lock.owner)
        spend = _Spend(suspect=snapshot.inflight is not None)
        started = time.monotonic()
        try:
            # The lease is sized for the worst case; renewing it while this process lives
            # also covers what timeouts cannot bound (a reply trickling in byte by byte).
            with lock.renewed():
                pair = self._spend(state.refresh_token, spend)
        except RefreshTokenExpired as exc:
            reason = (
                FailureReason.ROTATION_LOST
                if spend.uncertain
                else FailureReason.REFRESH_TOKEN_EXPIRED
            )
            self.store.clear_inflight(lock.owner)
            return self._refused(trigger, state, reason, str(exc))
        except ServerError as exc:
            # Nothing is cleared: a 5xx may have come after Revizto rotated the token.
            return self._ambiguous_failure(trigger, state, failing, spend, exc)
        except TransientError as exc:
            reason = _transient_reason(exc)
            if not spend.uncertain:
                self.store.clear_inflight(lock.owner)  # nothing reached Revizto to rotate
            self.metrics.failed(trigger, reason)
            log.error(
                "token refresh failed reason=%s error=%s generation=%d; keeping current tokens",
                reason,
                exc,
                state.generation,
            )
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            raise TokenUnavailable(reason, retry_after or 1.0) from None
        except (MalformedTokenResponse, OAuthError) as exc:
            # The in-flight record stays: if Revizto rotated before garbling its reply, the
            # next attempt must be the single, careful one.
            self.metrics.failed(trigger, FailureReason.INVALID_RESPONSE)
            log.error(
                "token refresh returned an invalid response error=%s http_status=%s "
                "generation=%d; keeping current tokens",
                exc.message,
                exc.http_status,
                state.generation,
            )
            raise TokenUnavailable(FailureReason.INVALID_RESPONSE) from None
        finally:
            self.metrics.duration.observe(time.monotonic() - started)

        generation = self.store.commit_rotation(state, pair, self._clock())
        if generation is None:
            log.error(
                "credential replaced during refresh generation=%d; discarding the refreshed pair",
                state.generation,
            )
            return self._stored()
        latest = self._stored()
        rotated = pair.refresh_token is not None and pair.refresh_token != state.refresh_token
        log.info(
            LOG_REFRESHED + " trigger=%s generation=%d access_token=%s refresh_token=%s",
            str(rotated).lower(),
            trigger,
            latest.generation,
            fingerprint(latest.access_token),
            fingerprint(latest.refresh_token),
        )
        self.metrics.refreshes.labels(trigger=trigger, outcome="success").inc()
        self._mirror(latest)
        return latest

    def _spend(self, refresh_token: str, spend: _Spend) -> TokenPair:
        """POST the refresh grant with retries; a suspect token gets exactly one attempt."""
        policy = self.settings.token_retry
        if spend.uncertain:
            policy = policy.with_attempts(1)
        for attempt in policy.retrying("oauth2:refresh_token"):
            with attempt:
                try:
                    return self.oauth.refresh(refresh_token, attempts=1)
                except (RequestTimeout, ServerError) as exc:
                    # The request may have reached Revizto and rotated the token: a refusal
                    # of the retry then means the rotation was lost, not that it expired.
                    spend.uncertain = True
                    if isinstance(exc, ServerError):
                        spend.server_errors += 1
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    # -- refusals --------------------------------------------------------------------------

    def _refused(
        self, trigger: str, state: TokenState, reason: FailureReason, detail: str
    ) -> TokenState:
        """Revizto refused `state`'s refresh token: re-auth, unless it was already replaced
        (then the refusal was a lost race and the newer credential is the answer)."""
        if self._enter_reauth(state, reason, detail, LOG_REAUTH) is ReauthOutcome.MOVED_ON:
            return self._stored()
        self.metrics.failed(trigger, reason)
        raise ReauthRequired(reason, detail)

    def _failing_for(self, state: TokenState, snapshot: Snapshot) -> Failing | None:
        failing = snapshot.failing
        if failing is None or failing.refresh_token_fp != fingerprint(state.refresh_token):
            return None  # none, or about a credential since replaced
        return failing

    def _ambiguous_failure(
        self,
        trigger: str,
        state: TokenState,
        failing: Failing | None,
        spend: _Spend,
        error: ServerError,
    ) -> TokenState:
        """An HTTP 5xx from the token endpoint: a failing server or a corrupt token. Record
        it, back off, and declare the token dead only when it persisted while the rest of
        Revizto answers."""
        now = self._clock()
        failing = self._failing_policy.after_round(
            failing, fingerprint(state.refresh_token), spend.server_errors, now
        )
        self.store.record_failing(failing)
        if self._looks_dead(failing, state, now):
            detail = (
                f"the token endpoint answered HTTP {error.http_status} to {failing.requests} "
                f"refresh requests over {now - failing.first_at:.0f}s while Revizto's other "
                "endpoints answered"
            )
            return self._refused(trigger, state, FailureReason.REFRESH_FAILING, detail)
        self.metrics.failed(trigger, FailureReason.SERVER_ERROR)
        log.error(
            "token refresh failed reason=%s error=%s generation=%d failing_requests=%d "
            "next_attempt_in_s=%.1f; keeping current tokens",
            FailureReason.SERVER_ERROR,
            error,
            state.generation,
            failing.requests,
            failing.next_at - now,
        )
        raise TokenUnavailable(FailureReason.SERVER_ERROR, max(1.0, failing.next_at - now))

    def _looks_dead(self, failing: Failing, state: TokenState, now: float) -> bool:
        if not self._failing_policy.persisted(failing, now):
            return False
        if self._revizto_answers(state.access_token):
            return True
        log.warning(
            "token endpoint keeps failing but Revizto's other endpoints do not answer either "
            "failing_requests=%d; waiting for Revizto rather than declaring the token dead",
            failing.requests,
        )
        return False

    def _enter_reauth(
        self, refused: TokenState | None, reason: FailureReason, detail: str, message: str
    ) -> ReauthOutcome:
        """Flag re-auth for the credential `refused` (None: there is none); logs the
        operator's line once, by whoever raised the flag."""
        outcome = self.store.enter_reauth(refused, reason, detail)
        if outcome is ReauthOutcome.RAISED:
            log.error("%s reason=%s detail=%s", message, reason, detail)
        elif outcome is ReauthOutcome.MOVED_ON:
            log.warning(
                "refusal of a refresh token that was already replaced ignored reason=%s "
                "refresh_token=%s; a lost race, not a revocation",
                reason,
                fingerprint(refused.refresh_token if refused else ""),
            )
        return outcome

    def _mirror(self, state: TokenState, *, clear_api_key: bool = False) -> None:
        try:
            self.mirror.write_tokens(state, clear_api_key=clear_api_key)
        except OSError as exc:
            self.metrics.persist_failures.inc()
            log.error(
                "could not persist tokens to appsettings path=%s error=%s generation=%d; "
                "continuing from Redis",
                self.mirror.path,
                exc,
                state.generation,
            )


class _AlreadyRefreshed(Exception):
    """Raised inside lock acquisition when the generation moved while we waited."""

    def __init__(self, state: TokenState) -> None:
        super().__init__("already refreshed")
        self.state = state


class _RedisLockWait:
    """Take the Redis RefreshLock, waiting at most `lock_wait`.

    While waiting, a change of generation means another replica finished the refresh:
    waiting stops with _AlreadyRefreshed carrying the new state, so nobody refreshes twice.
    """

    def __init__(self, manager: TokenManager, trigger: str, seen_generation: int | None) -> None:
        self._manager = manager
        self._trigger = trigger
        self._seen = seen_generation
        self._lock: RefreshLock | None = None

    def __enter__(self) -> RefreshLock:
        manager = self._manager
        settings = manager.settings
        started = time.monotonic()
        deadline = started + settings.lock_wait
        # No check of the generation before the first try: the caller has just read it,
        # and the lock holder re-reads the state anyway (_refresh_locked).
        lock = RefreshLock(manager.store.client, manager.store.lock_key, settings.lock_lease)
        while not lock.try_acquire():
            self._return_if_moved()
            if time.monotonic() >= deadline:
                self._timed_out(started)
            time.sleep(defaults.LOCK_POLL_SECONDS)
        manager.metrics.lock_wait.observe(time.monotonic() - started)
        self._lock = lock
        return lock

    def __exit__(self, *exc_info: object) -> None:
        if self._lock is None:
            return
        try:
            if not self._lock.release():
                log.warning("refresh lock had already expired when released")
        except redis.RedisError as exc:
            log.warning("could not release the refresh lock error=%s", exc)

    def _return_if_moved(self) -> None:
        if self._seen is None:
            return
        state = self._manager.store.load()
        if state is not None and state.generation != self._seen:
            raise _AlreadyRefreshed(state)

    def _timed_out(self, started: float) -> None:
        manager = self._manager
        manager.metrics.lock_wait.observe(time.monotonic() - started)
        if self._trigger != "bootstrap":
            manager.metrics.failed(self._trigger, FailureReason.LOCK_TIMEOUT)
        raise TokenUnavailable(FailureReason.LOCK_TIMEOUT, retry_after=1.0)
