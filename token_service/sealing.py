"""Encryption at rest of the tokens in Redis and appsettings.json (AES-256-GCM).

With TOKEN_ENCRYPTION_KEY set, every stored token is `enc:v1:<key id>:<base64 of nonce +
ciphertext>`. The key id (a hash prefix of the key, not the key) says which key sealed a
value, so after a rotation TOKEN_ENCRYPTION_OLD_KEYS can still open what the old key
sealed while everything new is sealed with the current one. A value without the prefix is
plaintext: read as it is (migration from an unencrypted deployment) and sealed on its
next write. Without a key nothing is sealed, and a sealed value cannot be opened: that is
a start-up error rather than a silent loss of the credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12  # GCM's standard nonce; random per value, so never reused in practice
# Binds a ciphertext to its purpose: a sealed token cannot be replayed as something else.
ASSOCIATED_DATA = b"revizto-exporter/token/v1"


class SealingProblem(ValueError):
    """A key is malformed, or a stored value cannot be opened with the keys configured."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class Sealer:
    """Seals with the current key; opens with the current key or any old one."""

    def __init__(self, current: bytes | None = None, old: Iterable[bytes] = ()) -> None:
        self._current = current
        self._keys = {key_id(key): key for key in (*old, *([current] if current else []))}

    @property
    def enabled(self) -> bool:
        return self._current is not None

    @property
    def current_key_id(self) -> str | None:
        return key_id(self._current) if self._current is not None else None

    def seal(self, value: str) -> str:
        if self._current is None or not value or is_sealed(value):
            return value
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._current).encrypt(nonce, value.encode(), ASSOCIATED_DATA)
        payload = base64.b64encode(nonce + sealed).decode()
        return f"{PREFIX}{key_id(self._current)}:{payload}"

    def open(self, value: str) -> str:
        if not is_sealed(value):
            return value
        kid, _, payload = value[len(PREFIX) :].partition(":")
        key = self._keys.get(kid)
        if key is None:
            hint = (
                "set TOKEN_ENCRYPTION_KEY to the key that sealed it, or list that key in "
                "TOKEN_ENCRYPTION_OLD_KEYS"
                if self.enabled
                else "set TOKEN_ENCRYPTION_KEY"
            )
            raise SealingProblem(f"a stored token is encrypted with key id {kid}: {hint}")
        try:
            raw = base64.b64decode(payload, validate=True)
            opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], ASSOCIATED_DATA)
        except (binascii.Error, InvalidTag, ValueError):
            raise SealingProblem(
                f"a stored token sealed with key id {kid} does not decrypt: corrupt or altered"
            ) from None
        return opened.decode()

    def needs_resealing(self, value: str) -> bool:
        """Plaintext while a key is set, or sealed with an old key."""
        if self._current is None or not value:
            return False
        return not value.startswith(f"{PREFIX}{key_id(self._current)}:")


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def parse_key(name: str, text: str) -> bytes:
    """Standard base64 of 32 bytes (`openssl rand -base64 32`); the message never shows it."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise SealingProblem(f"{name} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise SealingProblem(
            f"{name} must be {KEY_BYTES} bytes once decoded, got {len(key)} "
            "(make one with: openssl rand -base64 32)"
        )
    return key
