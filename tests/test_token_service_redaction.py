"""Secrets never reach a log line: masking by registered value, by key and by shape."""

from __future__ import annotations

import io
import logging

import pytest

from service_common.redaction import MASK, MaskingFormatter, SecretRegistry, fingerprint

ROTATED = "def50200" + "ab" * 40
OPAQUE = "an-opaque-token-with-no-recognisable-shape"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDAuNX0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "line",
    [
        f"refresh_token={OPAQUE} generation=3",
        f'{{"access_token": "{OPAQUE}"}}',
        f"Authorization: Bearer {OPAQUE}",
        f"form grant_type=refresh_token&refresh_token={OPAQUE}",
        f"ApiKey: '{OPAQUE}'",
        f"the token {JWT} expired",
        f"rotated to {ROTATED}",
    ],
)
def test_tokens_are_masked_by_key_and_by_shape(line: str) -> None:
    masked = SecretRegistry().mask(line)
    assert OPAQUE not in masked
    assert JWT not in masked
    assert ROTATED not in masked
    assert MASK in masked


def test_a_registered_token_is_masked_anywhere_even_without_a_key() -> None:
    registry = SecretRegistry()
    registry.register(OPAQUE)
    assert registry.mask(f"weird upstream message mentioning {OPAQUE}.") == (
        f"weird upstream message mentioning {MASK}."
    )


def test_ordinary_words_survive() -> None:
    text = "barcode=42 encoded=yes generation=7 refresh_token=*** fingerprint=ab12cd34ef56"
    assert SecretRegistry().mask(text) == text


@pytest.mark.parametrize(
    "line",
    [
        "export failed job=0123 code=reauth_required message=re-authenticate",
        "unit failed job=0123 unit=project:x code=retries_exhausted message=...",
        "Access token successfully refreshed. refresh_token=ab12cd34ef56 generation=42",
    ],
)
def test_error_codes_and_fingerprints_stay_readable(line: str) -> None:
    assert SecretRegistry().mask(line) == line


def test_a_long_value_after_code_is_still_masked() -> None:
    assert OPAQUE not in SecretRegistry().mask(f"exchange code={OPAQUE} failed")


def test_the_formatter_masks_arguments_and_tracebacks() -> None:
    registry = SecretRegistry()
    registry.register(OPAQUE)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter(logging.Formatter("%(message)s"), registry))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("refresh failed for %s", OPAQUE)
        try:
            raise ValueError(f"bad token {OPAQUE}")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert OPAQUE not in output
    assert output.count(MASK) == 2


def test_fingerprints_are_short_stable_and_not_the_token() -> None:
    assert fingerprint(OPAQUE) == fingerprint(OPAQUE)
    assert len(fingerprint(OPAQUE)) == 12
    assert fingerprint(OPAQUE) not in OPAQUE
    assert fingerprint(None) == "none"
