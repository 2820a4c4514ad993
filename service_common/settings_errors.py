"""pydantic's ValidationError, told in the operator's words: which variable, what it must
be, and what it was, unless it is a secret.

>>> from pydantic import Field
>>> from service_common.settings import ServiceSettings
>>> class Demo(ServiceSettings):
...     threads: int = Field(16, ge=1, validation_alias="DEMO_THREADS")
>>> Demo.from_env({"DEMO_THREADS": "0"})
Traceback (most recent call last):
service_common.configuration_error.ConfigurationError: DEMO_THREADS: input should be greater than or equal to 1, got '0'
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from service_common.configuration_error import ConfigurationError
from service_common.secret_files import FILE_SUFFIX, is_secret, variable_name

# Long enough to recognise a mistyped value, short enough to keep the message one line.
SHOWN_INPUT_CHARACTERS = 80
# pydantic's prefixes of the messages our own validators raise, which already say it all.
_OWN_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def configuration_error(
    error: ValidationError, model: type[BaseModel], environment: Mapping[str, str]
) -> ConfigurationError:
    """One ConfigurationError for every problem in `error`, joined by "; "."""
    variables: dict[str, tuple[str, bool]] = {}
    for name, field in model.model_fields.items():
        described = (variable_name(name, field), is_secret(field))
        variables[name] = variables[described[0]] = described
    problems = [
        _problem(detail, variables, environment)
        for detail in error.errors(include_url=False, include_context=False)
    ]
    return ConfigurationError("; ".join(problems))


def _problem(
    detail: Any, variables: Mapping[str, tuple[str, bool]], environment: Mapping[str, str]
) -> str:
    message = str(detail["msg"])
    own = message.startswith(_OWN_MESSAGE_PREFIXES)
    for prefix in _OWN_MESSAGE_PREFIXES:
        message = message.removeprefix(prefix)
    location = detail["loc"]
    if not location:  # a rule across variables; its message names them
        return message
    key = str(location[0])
    variable, secret = variables.get(key, (key, False))
    if detail["type"] == "missing":
        message = f"{variable} is required"
    elif variable not in message:
        message = f"{variable}: {message[:1].lower()}{message[1:]}"
    if secret:
        if environment.get(variable + FILE_SUFFIX):
            message += f" (read from {variable}{FILE_SUFFIX})"
    elif not own and detail["type"] != "missing":
        message += f", got {_shown(detail['input'])}"
    return message


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) > SHOWN_INPUT_CHARACTERS:
        return text[: SHOWN_INPUT_CHARACTERS - 3] + "..."
    return text
