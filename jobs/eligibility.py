"""Which licences and projects can be exported, and why the others are skipped; shared by
the planning task and the API's project catalogue, so both give the same reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def license_unavailable_reason(license_: Mapping[str, Any]) -> str | None:
    """Why a licence cannot be exported: frozen, or no API access (Revizto+ only)."""
    if license_.get("frozen") is True:
        return "frozen"
    options = license_.get("licenseOptions")
    if isinstance(options, Mapping) and options.get("allowApiAccess") is False:
        return "no_api_access"
    return None


def project_skip_reason(
    project: Mapping[str, Any], *, include_archived: bool, explicitly_asked: bool
) -> str | None:
    """Why a project of an exportable licence is skipped: archived (unless asked for),
    or frozen."""
    if project.get("archived") is True and not (include_archived or explicitly_asked):
        return "archived"
    if project.get("frozen") is True:
        return "frozen"
    return None
