"""Deterministic identifiers: uuids and integers derived from a seed, and uuid matching."""

from __future__ import annotations

import hashlib


def uuid_key(text: str) -> str:
    """The form two uuids are compared in: lower case, dashes removed (legacy ones have none).

    >>> uuid_key("ABCD-ef")
    'abcdef'
    """
    return text.replace("-", "").lower()


def digest(*parts: object) -> bytes:
    """32 stable pseudo-random bytes for the given parts (the same in every process)."""
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=32).digest()


def format_uuid(raw: bytes, *, dashed: bool = True) -> str:
    """A version-4-looking uuid from 16 bytes; undashed 32-hex when `dashed` is false."""
    value = bytearray(raw[:16])
    value[6] = (value[6] & 0x0F) | 0x40
    value[8] = (value[8] & 0x3F) | 0x80
    hexed = value.hex()
    if not dashed:
        return hexed
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def derived_uuid(*parts: object, dashed: bool = True) -> str:
    """A uuid that depends only on `parts`.

    >>> derived_uuid("x") == derived_uuid("x")
    True
    """
    return format_uuid(digest(*parts), dashed=dashed)


def derived_int(low: int, high: int, *parts: object) -> int:
    """An integer in [low, high) that depends only on `parts`."""
    return low + int.from_bytes(digest(*parts)[:8], "big") % (high - low)
