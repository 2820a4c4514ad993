"""/v1/credential: the state of the Revizto credential the exporter runs on (never a
token), so a caller can see re-authentication coming or needed."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api.auth import protect
from api.models import CredentialView, dump
from api.upstream import token_service
from jobs.timestamps import rfc3339

bp = protect(Blueprint("credential", __name__, url_prefix="/v1"))


@bp.get("/credential")
def credential() -> Response:
    state = token_service().credential()
    view = CredentialView(
        installed=bool(state.get("installed")),
        reauth_required=bool(state.get("reauth_required")),
        reauth_reason=state.get("reauth_reason"),
        reauth_since=_moment(state.get("reauth_since")),
        access_token_expires_at=_moment(state.get("access_token_expires_at")),
        access_token_expires_in_seconds=state.get("access_token_expires_in_seconds"),
        refresh_token_age_seconds=state.get("refresh_token_age_seconds"),
        generation=state.get("generation"),
        base_url=state.get("base_url"),
    )
    return jsonify(dump(view))


def _moment(value: object) -> str | None:
    return rfc3339(float(value)) if isinstance(value, int | float) else None
