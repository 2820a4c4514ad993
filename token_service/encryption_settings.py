"""TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_OLD_KEYS (each may be given as a `_FILE`), the
keys of the Sealer that encrypts the tokens at rest (token_service/sealing.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator

from service_common.settings import SECRET, ServiceSettings
from token_service.sealing import Sealer, parse_key

KEY_VARIABLE = "TOKEN_ENCRYPTION_KEY"
OLD_KEYS_VARIABLE = "TOKEN_ENCRYPTION_OLD_KEYS"


class EncryptionSettings(ServiceSettings):
    key: Annotated[SecretStr, SECRET] = Field(default=SecretStr(""), validation_alias=KEY_VARIABLE)
    # Comma-separated keys of before a rotation: still opened, never used to seal.
    old_keys: Annotated[SecretStr, SECRET] = Field(
        default=SecretStr(""), validation_alias=OLD_KEYS_VARIABLE
    )

    def sealer(self) -> Sealer:
        text = self.key.get_secret_value()
        current = parse_key(KEY_VARIABLE, text) if text.strip() else None
        return Sealer(current, _old_keys(self.old_keys.get_secret_value()))

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value().strip():
            parse_key(KEY_VARIABLE, value.get_secret_value())
        return value

    @field_validator("old_keys")
    @classmethod
    def _check_old_keys(cls, value: SecretStr) -> SecretStr:
        _old_keys(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _old_keys_need_a_current_one(self) -> EncryptionSettings:
        if self.old_keys.get_secret_value().strip() and not self.key.get_secret_value().strip():
            raise ValueError(f"{OLD_KEYS_VARIABLE} needs {KEY_VARIABLE} as well")
        return self


def _old_keys(text: str) -> list[bytes]:
    return [
        parse_key(f"{OLD_KEYS_VARIABLE} item {index + 1}", item)
        for index, item in enumerate(text.split(","))
        if item.strip()
    ]
