"""`_FILE` variants of secret settings: `NAME_FILE=/run/secrets/name` instead of `NAME=...`.

Compose and Docker secrets arrive as files; an environment variable shows up in
`docker inspect`, in /proc/<pid>/environ and in every child process. A settings field
annotated with SECRET may be given either way: its variable, or the file the `_FILE`
variable names, whose content (less one trailing newline, which `echo` and editors add) is
the value. Setting both is refused rather than silently preferring one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from service_common.configuration_error import ConfigurationError

FILE_SUFFIX = "_FILE"


class Secret:
    """Field metadata: the value is a secret. It may come from `NAME_FILE`, and errors about
    it never show it."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = Secret()


def is_secret(field: FieldInfo) -> bool:
    return any(isinstance(item, Secret) for item in field.metadata)


def variable_name(field_name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from: its validation alias."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else field_name


def read_secret_file(file_variable: str, path: str) -> str:
    """The secret in `path`; a ConfigurationError naming `file_variable` and the path (never
    the content) when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {file_variable} {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    except UnicodeDecodeError:
        # The decoder's own message quotes the offending byte, a piece of the secret.
        raise ConfigurationError(f"{file_variable} {path} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


class SecretFileSource(PydanticBaseSettingsSource):
    """The secrets given as files, keyed by their variable names like the environment's."""

    def __init__(self, settings_cls: type[BaseSettings], environment: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environment = environment

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Not used: __call__ reads every secret field itself.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not is_secret(field):
                continue
            variable = variable_name(name, field)
            file_variable = variable + FILE_SUFFIX
            path = self._environment.get(file_variable, "")
            if not path:
                continue
            if self._environment.get(variable, ""):
                raise ConfigurationError(
                    f"{variable} and {file_variable} are both set: set only one of them"
                )
            value = read_secret_file(file_variable, path)
            if value:  # an empty file, like an empty variable, means the default
                found[variable] = value
        return found
