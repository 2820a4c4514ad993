"""Which licences and projects can be exported, and why the others are skipped; shared by
the planning task, the project units and the API's project catalogue, so all give the same
reasons.

Reasons: `frozen`, `no_api_access`, `archived`; `insufficient_role` (the caller is not
licence administrator: the licence list says a role below 4, or a licence-level endpoint
refused with -20); `access_denied` (a project's data endpoint refused with -20, found out
only while exporting it). A skip is an answer, not a failure: a job whose every licence and
project was skipped succeeds, with an empty export that lists the skips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The role the original tool required on a licence: licence administrator. Public clients
# list 1 guest, 2 collaborator, 3 content creator, 4 licence administrator
# (docs/revizto-api.md §4.2).
LICENSE_ADMIN_ROLE = 4
INSUFFICIENT_ROLE = "insufficient_role"
ACCESS_DENIED = "access_denied"


def license_unavailable_reason(license_: Mapping[str, Any]) -> str | None:
    """Why a licence cannot be exported: frozen, no API access (Revizto+ only), or the
    caller is not its administrator. A licence without a readable `role` is tried: its
    endpoints refuse if the role is too low, and the licence is skipped then."""
    if license_.get("frozen") is True:
        return "frozen"
    options = license_.get("licenseOptions")
    if isinstance(options, Mapping) and options.get("allowApiAccess") is False:
        return "no_api_access"
    role = license_.get("role")
    if isinstance(role, int) and not isinstance(role, bool) and role < LICENSE_ADMIN_ROLE:
        return INSUFFICIENT_ROLE
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


def skip_entry(
    kind: str,
    uuid: Any,
    name: Any,
    reason: str,
    *,
    license_uuid: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One entry of a job's `skipped` list: `{kind, uuid, name, [license_uuid,] reason,
    [detail]}`; `detail` is Revizto's refusal when one was the reason."""
    entry: dict[str, Any] = {"kind": kind, "uuid": uuid, "name": name}
    if license_uuid is not None:
        entry["license_uuid"] = license_uuid
    entry["reason"] = reason
    if detail is not None:
        entry["detail"] = detail
    return entry
