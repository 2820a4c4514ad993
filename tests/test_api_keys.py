"""EXPORTER_API_KEYS and EXPORTER_ADMIN_KEYS: named keys, admins, and what is refused."""

from __future__ import annotations

import doctest

import pytest

import api.keys
from api.keys import ApiKeys, ApiKeysProblem
from api.settings import ApiSettings
from service_common.configuration_error import ConfigurationError

KEY = "0123456789abcdef0123"


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(api.keys).failed == 0


def test_named_and_bare_keys_are_told_apart_and_admins_marked() -> None:
    keys = ApiKeys.parse(f"erp:{KEY}a, {KEY}b ,ops:{KEY}c", admins="ops")
    erp, bare, ops = keys.keys
    assert (erp.name, erp.admin, ops.admin) == ("erp", False, True)
    assert bare.name.startswith("key-")
    assert bare.key == f"{KEY}b"
    assert keys.identify(f"{KEY}c") == ops
    assert keys.identify(KEY) is None
    assert KEY not in repr(keys)


@pytest.mark.parametrize(
    ("keys", "admins", "message"),
    [
        ("", "", "required"),
        ("erp:short", "", "at least 16"),
        (f"erp:{KEY},erp:{KEY}x", "", "name of its own"),
        (f"bad name:{KEY}", "", "not a key name"),
        (f"erp:{KEY}", "ops", "no key called ops"),
    ],
)
def test_unusable_key_settings_are_refused_naming_the_problem(
    keys: str, admins: str, message: str
) -> None:
    with pytest.raises(ApiKeysProblem, match=message):
        ApiKeys.parse(keys, admins)


@pytest.mark.parametrize("threads", ["abc", "0", "-1", "1" * 50])
def test_api_threads_must_be_a_sensible_integer(threads: str) -> None:
    with pytest.raises(ConfigurationError, match="API_THREADS"):
        ApiSettings.from_env({"EXPORTER_API_KEYS": KEY, "API_THREADS": threads})
