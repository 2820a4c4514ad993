"""/v1/projects: licences and their projects, so callers can choose what to export."""

from __future__ import annotations

import json
from typing import Any

import redis
from flask import Blueprint, Response, current_app, jsonify

from api.auth import protect
from api.models import LicenseEntry, ProjectEntry, ProjectsView, dump
from api.settings import ApiSettings
from api.upstream import revizto_client
from jobs.eligibility import INSUFFICIENT_ROLE, license_unavailable_reason
from revizto.client import ReviztoClient
from revizto.errors import AccessDenied

bp = protect(Blueprint("projects", __name__, url_prefix="/v1"))

CACHE_KEY = "rxp:cache:projects"


def catalogue(client: ReviztoClient) -> ProjectsView:
    licenses = []
    for license_ in client.licenses():
        reason = license_unavailable_reason(license_)
        projects = []
        if reason is None:
            try:
                listed = client.license_projects(str(license_["uuid"]))
            except AccessDenied:
                # The same reason an export would skip it with (worker/plan.py).
                reason = INSUFFICIENT_ROLE
            else:
                projects = [
                    ProjectEntry(
                        uuid=_text(p.get("uuid")),
                        id=p["id"] if isinstance(p.get("id"), int) else None,
                        title=_text(p.get("title")),
                        archived=bool(p.get("archived")),
                        frozen=bool(p.get("frozen")),
                    )
                    for p in listed
                ]
        licenses.append(
            LicenseEntry(
                uuid=_text(license_.get("uuid")),
                name=_text(license_.get("name")),
                exportable=reason is None,
                reason=reason,
                projects=projects,
            )
        )
    return ProjectsView(licenses=licenses)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@bp.get("/projects")
def list_projects() -> Response:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    cache: redis.Redis = current_app.extensions["redis"]
    cached = cache.get(CACHE_KEY)
    if cached is not None:
        response = Response(cached, mimetype="application/json")
        response.headers["X-Cache"] = "hit"
        return response
    body = dump(catalogue(revizto_client()))
    cache.set(CACHE_KEY, json.dumps(body), ex=settings.projects_cache_seconds)
    response = jsonify(body)
    response.headers["X-Cache"] = "miss"
    return response
