"""revizto-export: submit, follow, retry and download export jobs from a shell.

Connection: --url and --api-key, or EXPORTER_URL and EXPORTER_API_KEY.

\b
Exit codes:
  0  done (for a job: it succeeded, or is still running without --wait)
  1  the job failed or was cancelled, or a download did not match its manifest
  2  a usage error, an error answer of the job API, or the API could not be reached
  3  the job partially succeeded (some projects were not exported)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Column, Table

from jobs.request import RESOURCES
from revizto_export.client import ApiProblem, JobApiClient, Unreachable
from revizto_export.follow import follow_bars, follow_lines, job_line, project_line

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
WAIT_TIMEOUT_SECONDS = 24 * 3600


class Context:
    def __init__(self, url: str | None, api_key: str | None, as_json: bool) -> None:
        self.url = url
        self.api_key = api_key
        self.as_json = as_json
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @cached_property
    def client(self) -> JobApiClient:
        # Checked here, not by click, so that `revizto-export COMMAND --help` works unset.
        if not self.url:
            fail("no job API: pass --url or set EXPORTER_URL")
        if not self.api_key:
            fail("no API key: pass --api-key or set EXPORTER_API_KEY")
        return JobApiClient(self.url, self.api_key)

    def show(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            human()


def state_exit(job: dict[str, Any]) -> int:
    return {
        "partially_succeeded": EXIT_PARTIAL,
        "failed": EXIT_FAILED,
        "cancelled": EXIT_FAILED,
    }.get(job["state"], EXIT_OK)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"revizto-export: {message}", err=True)
    sys.exit(code)


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="EXPORTER_URL",
    help="the job API, e.g. http://127.0.0.1:8080 (EXPORTER_URL)",
)
@click.option(
    "--api-key",
    envvar="EXPORTER_API_KEY",
    help="one of the API's keys (EXPORTER_API_KEY)",
)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON instead of tables")
@click.pass_context
def main(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool) -> None:
    ctx.obj = Context(url, api_key, as_json)


def run(command: Callable[..., int | None]) -> Callable[..., None]:
    """Turn the API's problems into exit code 2 with a one-line message."""

    def wrapped(*args: Any, **kwargs: Any) -> None:
        try:
            code = command(*args, **kwargs)
        except ApiProblem as exc:
            fail(str(exc))
        except Unreachable as exc:
            fail(str(exc))
        except TimeoutError as exc:
            fail(str(exc), EXIT_FAILED)
        sys.exit(code or EXIT_OK)

    wrapped.__name__ = command.__name__
    wrapped.__doc__ = command.__doc__
    return wrapped


def identifier_column(header: str) -> Column:
    """A column never shrunk or cut: people copy identifiers from it into the next command."""
    return Column(header, no_wrap=True, min_width=36, overflow="ignore")


# -- what can be exported --------------------------------------------------------------------


@main.command()
@click.pass_obj
@run
def projects(obj: Context) -> None:
    """Licences and their projects, with why any is skipped."""
    catalogue = obj.client.projects()

    def human() -> None:
        table = Table(
            "licence / project",
            identifier_column("uuid"),
            "exportable",
            Column("why not", no_wrap=True),  # a reason code, as in the JSON
        )
        for licence in catalogue["licenses"]:
            table.add_row(
                f"[bold]{licence['name']}[/bold]",
                str(licence["uuid"]),
                "yes" if licence["exportable"] else "no",
                licence["reason"] or "",
            )
            for project in licence["projects"]:
                reason = (
                    "archived" if project["archived"] else "frozen" if project["frozen"] else ""
                )
                table.add_row(f"  {project['title']}", str(project["uuid"]), "", reason)
        obj.out.print(table)

    obj.show(catalogue, human)


# -- jobs ------------------------------------------------------------------------------------


def follow(obj: Context, job_id: str) -> dict[str, Any]:
    def fetch() -> dict[str, Any]:
        return obj.client.job(job_id)

    if obj.err.is_terminal and not obj.as_json:
        return follow_bars(fetch, obj.err, WAIT_TIMEOUT_SECONDS)
    return follow_lines(fetch, lambda line: click.echo(line, err=True), WAIT_TIMEOUT_SECONDS)


def show_job(obj: Context, job: dict[str, Any]) -> None:
    def human() -> None:
        obj.out.print(f"[bold]{job['id']}[/bold]  {job_line(job)}")
        if job["error"]:
            obj.out.print(f"error: {job['error']['code']}: {job['error']['message']}")
        for project in job["projects"]:
            obj.out.print(project_line(project))

    obj.show(job, human)


@main.command()
@click.option(
    "--project", "projects_", multiple=True, metavar="UUID", help="a project (repeat); default: all"
)
@click.option("--license", "license_", metavar="UUID", help="one licence; default: every licence")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    type=click.Choice(RESOURCES),
    help="repeat; default: all",
)
@click.option("--format", "fmt", type=click.Choice(["ndjson", "json", "csv"]), default=None)
@click.option(
    "--mode",
    type=click.Choice(["full", "incremental"]),
    default=None,
    help="incremental: only what changed since each project's last export (default full)",
)
@click.option(
    "--destination",
    "database",
    metavar="NAME",
    help="load into the server's database NAME (EXPORT_DATABASES) instead of files only",
)
@click.option("--updated-since", metavar="RFC3339", help="only issues changed since then")
@click.option("--include-archived", is_flag=True)
@click.option("--notify-url", metavar="URL", help="POSTed a signed event when the job ends")
@click.option("--idempotency-key", metavar="KEY", help="resubmitting with it returns the same job")
@click.option("--wait", is_flag=True, help="follow the job until it ends; exit code by its outcome")
@click.option(
    "--download",
    "download_to",
    type=click.Path(file_okay=False, path_type=Path),
    help="wait, then download every file into DIR (checked against the manifest)",
)
@click.pass_obj
@run
def export(
    obj: Context,
    projects_: tuple[str, ...],
    license_: str | None,
    resources: tuple[str, ...],
    fmt: str | None,
    mode: str | None,
    database: str | None,
    updated_since: str | None,
    include_archived: bool,
    notify_url: str | None,
    idempotency_key: str | None,
    wait: bool,
    download_to: Path | None,
) -> int:
    """Submit an export job."""
    body: dict[str, Any] = {}
    for key, value in (
        ("project_uuids", list(projects_) or None),
        ("license_uuid", license_),
        ("resources", list(resources) or None),
        ("format", fmt),
        ("mode", mode),
        ("destination", {"type": "database", "name": database} if database else None),
        ("updated_since", updated_since),
        ("include_archived", include_archived or None),
        ("notify_url", notify_url),
    ):
        if value is not None:
            body[key] = value
    job = obj.client.submit(body, idempotency_key)
    if not (wait or download_to):
        obj.show(job, lambda: obj.out.print(f"submitted {job['id']} ({job['state']})"))
        return EXIT_OK
    click.echo(f"submitted {job['id']}", err=True)
    done = follow(obj, job["id"])
    show_job(obj, done)
    code = state_exit(done)
    if download_to is not None and done["state"] in ("succeeded", "partially_succeeded"):
        code = max(code, download_all(obj, done["id"], download_to))
    return code


@main.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="follow the job until it ends")
@click.pass_obj
@run
def status(obj: Context, job_id: str, wait: bool) -> int:
    """A job, with each project's state."""
    job = follow(obj, job_id) if wait else obj.client.job(job_id)
    show_job(obj, job)
    return state_exit(job)


@main.command(name="list")
@click.option(
    "--state",
    type=click.Choice(
        ["queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled"]
    ),
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.pass_obj
@run
def list_(obj: Context, state: str | None, limit: int) -> None:
    """Jobs, newest first."""
    jobs = list(obj.client.jobs(state=state, limit=limit))

    def human() -> None:
        table = Table(identifier_column("id"), "state", "%", "created", "finished", "error")
        for job in jobs:
            error = job["error"]["code"] if job["error"] else ""
            percent = f"{job['percent']:.0f}" if job["percent"] is not None else ""
            table.add_row(
                job["id"], job["state"], percent, job["created_at"], job["finished_at"] or "", error
            )
        obj.out.print(table)

    obj.show({"jobs": jobs}, human)


@main.command()
@click.argument("job_id")
@click.pass_obj
@run
def cancel(obj: Context, job_id: str) -> None:
    """Cancel a queued or running job."""
    job = obj.client.cancel(job_id)
    obj.show(job, lambda: obj.out.print(f"{job_id} {job['state']}"))


@main.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="follow the job until it ends")
@click.pass_obj
@run
def retry(obj: Context, job_id: str, wait: bool) -> int:
    """Run a finished job's failed and cancelled projects again."""
    job = obj.client.retry(job_id)
    if not wait:
        obj.show(job, lambda: obj.out.print(f"{job_id} {job['state']} (run {job['runs']})"))
        return EXIT_OK
    done = follow(obj, job_id)
    show_job(obj, done)
    return state_exit(done)


@main.command()
@click.argument("job_id")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
@run
def download(obj: Context, job_id: str, directory: Path) -> int:
    """Every file of a finished job, each checked against the manifest's sha256."""
    return download_all(obj, job_id, directory)


def download_all(obj: Context, job_id: str, directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    manifest = obj.client.manifest(job_id)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    mismatched = []
    for entry in manifest["files"]:
        path, sha256, size = obj.client.download(job_id, entry["name"], directory)
        ok = sha256 == entry["sha256"] and size == entry["size"]
        if not ok:
            mismatched.append(entry["name"])
        if not obj.as_json:
            click.echo(f"{'ok' if ok else 'MISMATCH'}  {path}  {size} bytes", err=True)
    summary = {
        "directory": str(directory),
        "files": len(manifest["files"]),
        "mismatched": mismatched,
    }
    obj.show(summary, lambda: obj.out.print(f"{len(manifest['files'])} files in {directory}"))
    if mismatched:
        click.echo(f"revizto-export: sha256 mismatch: {', '.join(mismatched)}", err=True)
        return EXIT_FAILED
    return EXIT_OK


# -- the credential --------------------------------------------------------------------------


@main.command()
@click.pass_obj
@run
def credential(obj: Context) -> int:
    """The Revizto credential: expiry, age, whether re-authentication is required."""
    state = obj.client.credential()

    def human() -> None:
        if state["reauth_required"]:
            obj.out.print(
                f"[bold red]re-authentication required[/bold red] since {state['reauth_since']}"
                f" ({state['reauth_reason']}): install a new access code "
                "(`python -m token_service auth --access-code CODE`)"
            )
        age = state["refresh_token_age_seconds"]
        obj.out.print(f"access token expires {state['access_token_expires_at']}")
        if age is not None:
            obj.out.print(
                f"refresh token in use for {age / 86400:.1f} days "
                f"(generation {state['generation']})"
            )
        obj.out.print(f"region {state['base_url']}")

    obj.show(state, human)
    return EXIT_FAILED if state["reauth_required"] else EXIT_OK
