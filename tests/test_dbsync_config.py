"""EXPORT_DATABASES (pure logic): clear errors that never show a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbsync.databases import DatabaseConfigError, Engines, databases_from_env, parse_databases
from worker.outcomes import classify

SECRET = "s3cret-pw"


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '["a list"]',
        '{"bad name!": "sqlite://"}',
        '{"reporting": 42}',
        f'{{"reporting": "postgresql://u:{SECRET}@h:abc/db"}}',
        f'{{"reporting": "nonsense-{SECRET}"}}',
    ],
)
def test_a_bad_configuration_is_named_without_its_url(raw: str) -> None:
    with pytest.raises(DatabaseConfigError, match="EXPORT_DATABASES") as caught:
        parse_databases(raw)
    assert SECRET not in str(caught.value)


def test_without_configuration_there_is_one_embedded_database(tmp_path: Path) -> None:
    assert databases_from_env({}, tmp_path) == {
        "local": f"sqlite:///{tmp_path.resolve() / 'revizto.sqlite3'}"
    }
    assert databases_from_env({"EXPORT_DATABASES": '{"a": "sqlite://"}'}, tmp_path) == {
        "a": "sqlite://"
    }


def test_a_database_this_worker_does_not_know_fails_the_unit_clearly() -> None:
    with pytest.raises(DatabaseConfigError) as caught:
        Engines({"a": "sqlite://"}).engine("reporting")
    outcome = classify(caught.value, "project p")
    assert outcome.code == "destination_error"
    assert not outcome.stops_job
    assert "'reporting'" in outcome.message
