"""A database destination end to end, on real PostgreSQL and MariaDB (and SQLite, the
embedded default): a full sync, deletions, changes and new comments in Revizto, then an
incremental sync, twice."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dbsync import schema
from dbsync.migrate import ensure_schema, unavailable
from dbsync.resources import TARGETS
from dbsync.rows import RowBuilder
from dbsync.upsert import upsert
from tests.support.databases import fresh_database
from tests.support.exporter import ExporterStack, StartStack, exported_projects
from tests.support.ports import free_port
from tests.support.sandbox import SandboxFactory, SandboxProcess
from tests.support.waiting import wait_until

DESTINATION = {"type": "database", "name": "reporting"}


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def reporting(url: str) -> dict[str, str]:
    """The stack's environment for one database destination, `reporting`, at `url`."""
    return {"EXPORT_DATABASES": json.dumps({"reporting": url})}


def sync(stack: ExporterStack) -> dict[str, Any]:
    job = stack.submit({"mode": "incremental", "destination": DESTINATION})
    done = stack.wait_finished(job["id"], timeout=180)
    assert done["state"] == "succeeded", done["error"]
    return done


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def snapshot(engine: Engine) -> dict[str, Any]:
    """What a reporting user sees: rows per table and the issues' changing columns."""
    with engine.connect() as connection:
        counts = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
        }
        issues = connection.execute(
            text("SELECT uuid, title, updated, deleted_at FROM revizto_issues ORDER BY uuid")
        ).all()
    return {"counts": counts, "issues": [tuple(row) for row in issues]}


def catalog_issue_uuids(sandbox: SandboxProcess, project: dict[str, Any], ids: list[int]) -> Any:
    token = sandbox.access_token()
    uuids = {}
    page = 0
    while True:
        data = sandbox.data(
            f"/v5/project/{project['uuid']}/issue-filter/filter", token, page=page, limit=1000
        )
        uuids.update({i["id"]: i["uuid"] for i in data["data"]})
        page += 1
        if page >= data["pages"]:
            return [uuids[i] for i in ids]


def test_a_database_sync_then_an_incremental_one_shows_exactly_the_current_issues(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, database_url: str
) -> None:
    sandbox = sandbox_factory()  # the default data, as `make demo` exports it
    stack = exporter_factory(sandbox, workers=1, worker_env=reporting(database_url))
    engine = create_engine(database_url)
    try:
        full = sync(stack)
        records = full["progress"]["records"]
        first = snapshot(engine)
        assert first["counts"]["revizto_comments"] == records["comments"]
        deleted_before = scalar(
            engine, "SELECT COUNT(*) FROM revizto_issues WHERE deleted_at IS NOT NULL"
        )
        live = first["counts"]["revizto_issues"] - deleted_before
        assert live == records["issues"]
        assert scalar(engine, "SELECT COUNT(*) FROM revizto_issues_view") == live

        project = exported_projects(sandbox)[0]
        deleted, touched, commented = [1, 2, 3, 4, 5], list(range(20, 30)), [40, 41, 42]
        deleted_uuids = catalog_issue_uuids(sandbox, project, deleted)
        touched_uuids = catalog_issue_uuids(sandbox, project, touched)
        sandbox.delete_issues(project["uuid"], deleted)
        touched_at = sandbox.touch_issues(project["uuid"], touched)
        sandbox.add_comments(project["uuid"], commented)

        later = sync(stack)
        assert {p["since"] is not None for p in later["projects"]} == {True}
        second = snapshot(engine)
        # The same rows, none duplicated; five of them now tombstones
        assert second["counts"] == {
            **first["counts"],
            "revizto_comments": first["counts"]["revizto_comments"] + 3,
        }
        gone = scalar(engine, "SELECT COUNT(*) FROM revizto_issues WHERE deleted_at IS NOT NULL")
        assert gone == deleted_before + 5
        assert scalar(engine, "SELECT COUNT(*) FROM revizto_issues_view") == live - 5
        with engine.connect() as connection:
            for uuid in deleted_uuids:
                row = connection.execute(
                    text("SELECT deleted_at FROM revizto_issues WHERE uuid = :u"), {"u": uuid}
                ).one()
                assert row.deleted_at is not None
            for uuid in touched_uuids:
                updated = connection.execute(
                    text("SELECT updated FROM revizto_issues WHERE uuid = :u"), {"u": uuid}
                ).scalar_one()
                assert str(updated)[:19] == touched_at  # SQLite answers text, the others datetimes
        added = scalar(
            engine,
            "SELECT COUNT(*) FROM revizto_comments WHERE project_uuid = :p AND type = 'text'"
            " AND issue_id IN (40, 41, 42) AND created >= :t",
            p=project["uuid"],
            t=datetime.strptime(touched_at, "%Y-%m-%d %H:%M:%S"),
        )
        assert added == 3

        # The same sync again changes nothing a reporting user sees
        sync(stack)
        assert snapshot(engine) == second
    finally:
        engine.dispose()


def test_an_unreachable_database_fails_the_job_with_destination_unavailable(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack
) -> None:
    sandbox = sandbox_factory(projects=1, issues_per_project=5)
    closed = f"postgresql+psycopg://exporter:s3cret-pw@127.0.0.1:{free_port()}/nowhere"
    stack = exporter_factory(
        sandbox,
        workers=1,
        worker_env={
            "EXPORT_DATABASES": json.dumps({"reporting": closed}),
            "EXPORT_PROJECT_RETRY_WINDOW_SECONDS": "3",
        },
    )
    job = stack.submit({"resources": ["licenses", "issues"], "destination": DESTINATION})
    done = stack.wait_finished(job["id"], timeout=120)
    assert done["state"] == "failed"
    assert done["error"]["code"] == "destination_unavailable", done["error"]
    assert "'reporting'" in done["error"]["message"]
    assert max(p["retries"] for p in done["projects"]) >= 1
    # The worker kept running and said why; the URL's password is nowhere
    assert "s3cret-pw" not in stack.logs() + json.dumps(done)
    assert "Traceback" not in stack.workers[0].log()


def test_workers_starting_together_migrate_a_new_database_once(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, tmp_path: Path
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        sandbox = sandbox_factory(projects=2, issues_per_project=5)
        stack = exporter_factory(sandbox, workers=3, worker_env=reporting(url))
        sync(stack)
        engine = create_engine(url)
        try:
            assert scalar(engine, "SELECT COUNT(*) FROM revizto_alembic_version") == 1
            assert scalar(engine, "SELECT version_num FROM revizto_alembic_version") == "0001"
        finally:
            engine.dispose()
        assert all(w.process.alive() for w in stack.workers)


def test_a_worker_killed_while_loading_leaves_every_row_once_after_the_redo(
    sandbox_factory: SandboxFactory, exporter_factory: StartStack, tmp_path: Path
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        sandbox = sandbox_factory(projects=1, issues_per_project=4000)
        stack = exporter_factory(sandbox, workers=1, worker_env=reporting(url))
        engine = create_engine(url)
        try:
            job = stack.submit({"resources": ["issues"], "destination": DESTINATION})

            def loading() -> bool:
                try:
                    return bool(scalar(engine, "SELECT COUNT(*) FROM revizto_issues"))
                except Exception:
                    return False

            wait_until(loading, timeout=120, what="the first batch committed")
            (child,) = stack.workers[0].pool_pids()
            os.kill(child, signal.SIGKILL)  # mid-load: some batches in, the rest not
            done = stack.wait_finished(job["id"], timeout=180)
            assert done["state"] == "succeeded", done["error"]
            live = scalar(engine, "SELECT COUNT(*) FROM revizto_issues WHERE deleted_at IS NULL")
            assert live == 4000
            assert scalar(engine, "SELECT COUNT(DISTINCT uuid) FROM revizto_issues_view") == 4000
        finally:
            engine.dispose()


def test_an_older_copy_of_an_issue_never_overwrites_a_newer_one(
    database_url: str, redis_url: str
) -> None:
    engine = create_engine(database_url)
    try:
        ensure_schema(engine, "reporting", redis.Redis.from_url(redis_url))
        builder = RowBuilder("a" * 32, datetime(2026, 12, 1))
        project = "2e09e63a-7a8a-4eee-b193-56a3175d2b12"

        def load(resource: str, updated: str, title: str, deleted_at: str | None = None) -> None:
            record = {
                "id": 7,
                "uuid": "0b6f3f8e-2f7a-4a8e-9c39-1b2d3e4f5a6b",
                "title": {"value": title, "timestamp": updated},
                "updated": updated,
                "deletedAt": {"value": deleted_at, "timestamp": updated},
            }
            row = TARGETS[resource].to_row(builder, record, project)
            with engine.begin() as connection:
                upsert(connection, TARGETS[resource].table, [row])

        def stored() -> tuple[Any, ...]:
            with engine.connect() as connection:
                return tuple(
                    connection.execute(text("SELECT title, deleted_at FROM revizto_issues")).one()
                )

        load("issues", "2026-11-30 10:00:00", "new title")
        load("issues", "2026-11-29 10:00:00", "old title")  # a retried, older job
        assert stored() == ("new title", None)
        load("deleted_issues", "2026-11-30 12:00:00", "new title", "2026-11-30 12:00:00")
        assert stored()[1] is not None
        load("issues", "2026-11-30 10:00:00", "new title")  # an older live copy
        assert stored()[1] is not None  # still deleted
    finally:
        engine.dispose()


def test_only_unreachable_or_refused_logins_count_as_unavailable(tmp_path: Path) -> None:
    def error_of(url: str, sql: str = "SELECT 1") -> DBAPIError:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text(sql))
        except DBAPIError as exc:
            return exc
        finally:
            engine.dispose()
        raise AssertionError(f"{sql} succeeded")

    port = free_port()
    assert unavailable(error_of(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"))
    assert unavailable(error_of(f"mysql+pymysql://root@127.0.0.1:{port}/test"))
    with fresh_database("mariadb", tmp_path) as url:
        wrong_password = make_url(url).set(password="wrong")
        assert unavailable(error_of(wrong_password.render_as_string(hide_password=False)))
        assert not unavailable(error_of(url, "SELECT * FROM no_such_table"))
    with fresh_database("postgresql", tmp_path) as url:
        assert not unavailable(error_of(url, "SELECT * FROM no_such_table"))
    assert not unavailable(error_of(f"sqlite:///{tmp_path / 'x.db'}", "SELECT * FROM nope"))
