"""The shapes of the job API's own answers (the job itself is jobs/view.py's): the routes
build their bodies with these models, and /openapi.json is generated from them, so the
document cannot drift from what the API sends."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from jobs.view import JobSummary


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error answer."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="the fields at fault")
    reason: str | None = None


class JobList(BaseModel):
    jobs: list[JobSummary]
    next_page_token: str | None = Field(description="pass as page_token for the next page")


class ProjectEntry(BaseModel):
    uuid: str | None
    id: int | None
    title: str | None
    archived: bool
    frozen: bool


class LicenseEntry(BaseModel):
    uuid: str | None
    name: str | None
    exportable: bool
    reason: str | None = Field(
        description="why it cannot be exported: frozen, no_api_access, or insufficient_role "
        "(the credential's user is not its licence administrator)"
    )
    projects: list[ProjectEntry]


class ProjectsView(BaseModel):
    licenses: list[LicenseEntry]


class CredentialView(BaseModel):
    """The Revizto credential the exporter runs on; never a token."""

    installed: bool
    reauth_required: bool
    reauth_reason: str | None
    reauth_since: str | None
    access_token_expires_at: str | None
    access_token_expires_in_seconds: float | None
    refresh_token_age_seconds: float | None
    generation: int | None
    base_url: str | None


class Health(BaseModel):
    status: str


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
