"""What an export job asks for: validated once at the API, read again by the workers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from revizto.client import format_watermark

RESOURCES = (
    "licenses",
    "projects",
    "members",
    "workflows",
    "stamps",
    "sheets",
    "issues",
    "comments",
)
Resource = Literal[
    "licenses", "projects", "members", "workflows", "stamps", "sheets", "issues", "comments"
]
ExportFormat = Literal["ndjson", "json", "csv"]
ExportMode = Literal["full", "incremental"]
FILES_DESTINATION = "files"


def _all_resources() -> list[Resource]:
    return list(get_args(Resource))


_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


def normalise_uuid(value: str) -> str:
    """Revizto mixes dashed and legacy 32-hex uuids: compare them lower-case, undashed."""
    return value.replace("-", "").lower()


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def _uuid(value: str) -> str:
    if not is_uuid(value):
        raise ValueError("must be a uuid (dashed, or 32 hex digits)")
    return value.lower()


Uuid = Annotated[str, AfterValidator(_uuid)]
MAX_URL_LENGTH = 2048
DATABASE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"  # as EXPORT_DATABASES names them


class FilesDestination(BaseModel):
    """Files under the job's folder (the default)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["files"] = "files"


class DatabaseDestination(BaseModel):
    """A database the server knows by name (EXPORT_DATABASES); never a URL."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["database"]
    name: str = Field(pattern=DATABASE_NAME, description="one of the server's EXPORT_DATABASES")


Destination = Annotated[FilesDestination | DatabaseDestination, Field(discriminator="type")]


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    license_uuid: Uuid | None = Field(
        default=None, description="licence to export; default: every licence with API access"
    )
    project_uuids: list[Uuid] | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="projects to export; default: every project of the chosen licences",
    )
    resources: list[Resource] = Field(
        default_factory=_all_resources, min_length=1, description="what to export"
    )
    format: ExportFormat = "ndjson"
    destination: Destination = Field(
        default_factory=FilesDestination,
        description="files (default), or a database configured on the server, which the "
        "job's NDJSON files are loaded into (they stay with the job)",
    )
    mode: ExportMode = Field(
        default="full",
        description="incremental: per project, only what changed since that project's last "
        "successful export to the same destination (the service keeps the watermarks); "
        "a project never exported before is exported in full",
    )
    updated_since: datetime | None = Field(
        default=None,
        description="ISO-8601; only issues (and their comments) changed since then, for "
        "every project (wins over mode)",
    )
    include_archived: StrictBool = False
    notify_url: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="POSTed a signed `export.finished` event when the job finishes "
        "(its host must be in the server's EXPORT_WEBHOOK_ALLOWED_HOSTS)",
    )

    @field_validator("notify_url")
    @classmethod
    def http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
        except ValueError:
            raise ValueError("must be an http or https URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials; requests are signed instead")
        return value

    @field_validator("resources")
    @classmethod
    def no_duplicates(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("resources must not repeat")
        return [r for r in RESOURCES if r in value]  # a stable order

    @field_validator("updated_since", mode="before")
    @classmethod
    def parse_timestamp(cls, value: object) -> object:
        # Strict mode refuses strings for datetimes; JSON has no other way to send one.
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    "must be an ISO-8601 timestamp, e.g. 2026-01-31T12:00:00Z"
                ) from None
        return value

    @field_validator("updated_since")
    @classmethod
    def to_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        # A timestamp without a zone is taken as UTC, like Revizto's own timestamps.
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None

    def wants(self, resource: str) -> bool:
        return resource in self.resources

    def watermark(self) -> str | None:
        """`updated_since` in Revizto's `synchronized` format (UTC, no zone)."""
        if self.updated_since is None:
            return None
        return format_watermark(self.updated_since)

    def watermark_scope(self, owner: str) -> str:
        """Which copy the watermarks belong to: an incremental export continues the last
        successful export to the same destination. A database is one copy for every
        caller; files are each caller's own (jobs belong to their API key)."""
        if isinstance(self.destination, DatabaseDestination):
            return f"database:{self.destination.name}"
        return f"{FILES_DESTINATION}:{owner}"

    @property
    def moves_watermarks(self) -> bool:
        """Whether a successful export leaves its copy complete up to its watermarks: it
        took the changed issues, their comments and the tombstones. One that took fewer
        resources must not let the next incremental run skip what it left out."""
        return self.wants("issues") and self.wants("comments")

    @property
    def database(self) -> str | None:
        """The database destination's name, if the job has one."""
        if isinstance(self.destination, DatabaseDestination):
            return self.destination.name
        return None

    @field_validator("destination")
    @classmethod
    def database_takes_ndjson(
        cls, value: FilesDestination | DatabaseDestination, info: ValidationInfo
    ) -> FilesDestination | DatabaseDestination:
        # The database is loaded from the job's NDJSON files.
        if isinstance(value, DatabaseDestination) and info.data.get("format") != "ndjson":
            raise ValueError("a database destination takes format ndjson (the default)")
        return value

    def as_record(self) -> dict[str, object]:
        """JSON-ready, with the defaults filled in, as stored on the job and in the manifest."""
        return self.model_dump(mode="json")
