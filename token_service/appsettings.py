"""appsettings.json: the durable mirror of the credential, in the seed's structure.

Read only when Redis has no state. Rewritten after every rotation atomically (temporary
file in the same directory, mode 0600, fsync, rename, fsync of the directory), keeping
every key this service does not own. The `TokenState` section records the generation, so
an older file can be recognised and never written over a newer one, and when a person
installed the credential chain (`CredentialInstalledAt`). With TOKEN_ENCRYPTION_KEY set the
two tokens are written sealed (token_service/sealing.py); plaintext ones are still read.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service_common.redaction import SECRETS, fingerprint
from token_service.sealing import Sealer, SealingProblem
from token_service.state import TokenState

log = logging.getLogger(__name__)

SECTION = "ReviztoAPI"
STATE_SECTION = "TokenState"
FILE_MODE = 0o600


class PersistError(OSError):
    """appsettings.json could not be written; the service carries on from Redis."""


class AppSettingsInvalid(ValueError):
    """appsettings.json exists but is not the JSON object it should be."""


@dataclass(frozen=True)
class StoredCredentials:
    """The credential as the file holds it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    api_key: str = field(repr=False)
    base_url: str
    generation: int
    expires_at: float | None
    refresh_token_issued_at: float | None
    installed_at: float | None = None
    # Whether the tokens are written as they should be (sealed with the current key when
    # there is one); False means the next write is a migration.
    sealed_as_configured: bool = True


class AppSettingsFile:
    def __init__(self, path: Path, sealer: Sealer | None = None) -> None:
        self.path = path
        self.sealer = sealer or Sealer()

    def read_document(self) -> dict[str, Any] | None:
        """The whole JSON document, or None when the file does not exist."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AppSettingsInvalid(f"{self.path} is not valid JSON: {exc.msg}") from None
        if not isinstance(document, dict):
            raise AppSettingsInvalid(f"{self.path} must hold a JSON object")
        return document

    def read(self) -> StoredCredentials | None:
        document = self.read_document()
        if document is None:
            return None
        section = document.get(SECTION) or {}
        meta = document.get(STATE_SECTION) or {}
        if not isinstance(section, dict) or not isinstance(meta, dict):
            raise AppSettingsInvalid(f"{self.path}: {SECTION} and {STATE_SECTION} must be objects")
        stored_access = _text(section.get("AccessToken"))
        stored_refresh = _text(section.get("RefreshToken"))
        credentials = StoredCredentials(
            access_token=self.sealer.open(stored_access),
            refresh_token=self.sealer.open(stored_refresh),
            api_key=_text(section.get("ApiKey")),
            base_url=_text(section.get("BaseUrl")),
            generation=_int(meta.get("Generation")),
            expires_at=_number(meta.get("ExpiresAt")),
            refresh_token_issued_at=_number(meta.get("RefreshTokenIssuedAt")),
            installed_at=_number(meta.get("CredentialInstalledAt")),
            sealed_as_configured=not (
                self.sealer.needs_resealing(stored_access)
                or self.sealer.needs_resealing(stored_refresh)
            ),
        )
        SECRETS.register(credentials.access_token, credentials.refresh_token, credentials.api_key)
        return credentials

    def write_tokens(self, state: TokenState, *, clear_api_key: bool = False) -> bool:
        """Mirror `state`; False (and nothing written) when the file is already newer."""
        self._refuse_read_only()
        try:
            document = self.read_document() or {}
        except AppSettingsInvalid as exc:
            # Losing the rotated refresh token would be worse than losing a corrupt file:
            # keep the bad one aside for a human and write a good one.
            aside = self.path.with_name(f"{self.path.name}.invalid-{int(time.time())}")
            log.error("appsettings unreadable path=%s error=%s kept_as=%s", self.path, exc, aside)
            os.replace(self.path, aside)
            document = {}
        meta = document.get(STATE_SECTION)
        if isinstance(meta, dict) and _int(meta.get("Generation")) > state.generation:
            log.warning(
                "appsettings newer than this state path=%s file_generation=%s generation=%d",
                self.path,
                meta.get("Generation"),
                state.generation,
            )
            return False
        section = document.get(SECTION)
        if not isinstance(section, dict):
            section = {}
        section["AccessToken"] = self.sealer.seal(state.access_token)
        section["RefreshToken"] = self.sealer.seal(state.refresh_token)
        if clear_api_key and "ApiKey" in section:
            section["ApiKey"] = ""  # an access code works once; keeping it only misleads
        document[SECTION] = section
        document[STATE_SECTION] = {
            "Generation": state.generation,
            "ExpiresAt": state.expires_at,
            "RefreshTokenIssuedAt": state.refresh_token_issued_at,
            "UpdatedAt": state.updated_at,
            "CredentialInstalledAt": state.installed_at or None,
            "RefreshTokenFingerprint": fingerprint(state.refresh_token),
        }
        self._atomic_write(json.dumps(document, indent=2) + "\n")
        return True

    def _refuse_read_only(self) -> None:
        # rename() ignores the file's own permission bits (and root ignores them all), so
        # an operator's `chmod a-w appsettings.json` has to be honoured explicitly.
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return
        if not mode & stat.S_IWUSR:
            raise PersistError(f"{self.path} is read-only (mode {stat.filemode(mode)})")

    def check_directory_writable(self) -> None:
        """PersistError unless a file can be created next to this one, where every rewrite
        puts its temporary file. Tried for real: as root, permission bits say nothing."""
        directory = self.path.parent
        if not directory.is_dir():
            raise PersistError(f"{directory} is not a directory")
        try:
            fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-probe.")
        except OSError as exc:
            raise PersistError(f"cannot create a file in {directory}: {exc.strerror}") from None
        os.close(fd)
        os.unlink(probe)

    def _atomic_write(self, text: str) -> None:
        directory = self.path.parent
        try:
            fd, tmp_name = tempfile.mkstemp(
                dir=directory, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise PersistError(f"cannot create a file in {directory}: {exc.strerror}") from None
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_path, self.path)
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise PersistError(f"cannot write {self.path}: {exc.strerror}") from None

    def probe(self) -> dict[str, Any]:
        """For `status`: is the file there, readable, writable, and which generation."""
        report: dict[str, Any] = {"path": str(self.path), "exists": self.path.exists()}
        try:
            stored = self.read()
            report["readable"] = True
            report["generation"] = stored.generation if stored else None
            report["has_refresh_token"] = bool(stored and stored.refresh_token)
        except (OSError, AppSettingsInvalid, SealingProblem) as exc:
            report["readable"] = False
            report["error"] = str(exc)
        try:
            self._refuse_read_only()
            report["writable"] = os.access(self.path.parent, os.W_OK)
        except PersistError:
            report["writable"] = False
        return report


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
