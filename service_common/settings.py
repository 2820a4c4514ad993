"""The configuration layer every service shares: pydantic-settings models of environment
variables, read once at start.

A service's settings derive from ServiceSettings and name each variable with
`validation_alias`; bounds and parsers are pydantic's constraints and validators. The rules
they all follow:

- an empty variable means its default (compose passes `${VAR:-}` for what .env leaves out);
- only the variables a model declares are read, each as a string its validators parse;
- a field marked SECRET may come from `NAME_FILE` instead (service_common.secret_files);
- whatever is wrong becomes one ConfigurationError naming the variables, never showing a
  secret (service_common.settings_errors), which entry points turn into one line and
  exit status 78 (service_common.configuration_error).

`Model.from_env()` reads os.environ; `Model.from_env(mapping)` reads only the mapping (tests).
Constructing a model directly reads no environment at all: defaults and the arguments.
A field whose type is itself a ServiceSettings (a section, like the rate limit that the API
and the workers share) is read from the same environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from service_common.configuration_error import (
    EX_CONFIG,
    ConfigurationError,
    report_configuration_error,
)
from service_common.secret_files import SECRET, SecretFileSource, variable_name
from service_common.settings_errors import configuration_error

__all__ = [
    "EX_CONFIG",
    "SECRET",
    "ConfigurationError",
    "PositiveCount",
    "PositiveNumber",
    "ServiceSettings",
    "ThreadCount",
    "ZeroOrPositiveNumber",
    "report_configuration_error",
]

# The shapes of the numbers services read: durations, counts, sizes. inf and nan are no
# durations anyone means, and would defeat every bound computed from them.
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
ZeroOrPositiveNumber = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # 0: off
PositiveCount = Annotated[int, Field(ge=1)]
# A server's threads: at least one, and not so many that a typo exhausts memory.
ThreadCount = Annotated[int, Field(ge=1, le=1000)]

# The environment the model being built reads. pydantic-settings builds its sources inside
# the constructor, with no argument to hand them a mapping; a context variable carries it
# there without any global state leaking between threads or into direct construction.
_ENVIRONMENT: ContextVar[Mapping[str, str]] = ContextVar(
    "service_settings_environment", default=MappingProxyType({})
)


class DeclaredVariables(EnvSettingsSource):
    """The model's own variables from one mapping, each passed on as the string it is: the
    fields' validators parse it (pydantic-settings would otherwise try JSON first for a set
    or a dict, and a comma-separated list is not JSON)."""

    def __init__(self, settings_cls: type[BaseSettings], environment: Mapping[str, str]) -> None:
        super().__init__(settings_cls, case_sensitive=True, env_ignore_empty=True)
        declared = {
            variable_name(name, field)
            for name, field in settings_cls.model_fields.items()
            if isinstance(field.validation_alias, str)
        }
        self.env_vars = {
            name: value for name, value in environment.items() if name in declared and value != ""
        }

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        return value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        # Belt and braces: a ValidationError that escaped somewhere would not show values.
        hide_input_in_errors=True,
        arbitrary_types_allowed=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environment = _ENVIRONMENT.get()
        return (
            init_settings,
            SecretFileSource(settings_cls, environment),
            DeclaredVariables(settings_cls, environment),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The settings in `env` (default: os.environ), or ConfigurationError."""
        return cls.load(os.environ if env is None else env)

    @classmethod
    def load(cls, environment: Mapping[str, str], **parts: Any) -> Self:
        """The settings in `environment`, with `parts` (fields a subclass builds itself from
        other settings) as given."""
        for name, field in cls.model_fields.items():
            section = field.annotation
            if (
                name not in parts
                and isinstance(section, type)
                and issubclass(section, ServiceSettings)
            ):
                parts[name] = section.load(environment)
        token = _ENVIRONMENT.set(environment)
        try:
            return cls(**parts)
        except ValidationError as exc:
            raise configuration_error(exc, cls, environment) from None
        finally:
            _ENVIRONMENT.reset(token)
