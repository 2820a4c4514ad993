"""/v1/projects: licences and their projects, so callers can choose what to export."""

from __future__ import annotations

import json
from typing import Any

import redis
from flask import Blueprint, Response, current_app, jsonify

from api.auth import protect
from api.settings import ApiSettings
from jobs.eligibility import license_unavailable_reason
from revizto.client import ReviztoClient
from token_service.client import TokenServiceProvider

bp = protect(Blueprint("projects", __name__, url_prefix="/v1"))

CACHE_KEY = "rxp:cache:projects"


def catalogue(client: ReviztoClient) -> dict[str, Any]:
    licenses = []
    for license_ in client.licenses():
        reason = license_unavailable_reason(license_)
        entry: dict[str, Any] = {
            "uuid": license_.get("uuid"),
            "name": license_.get("name"),
            "exportable": reason is None,
            "reason": reason,
            "projects": [],
        }
        if reason is None:
            entry["projects"] = [
                {
                    "uuid": p.get("uuid"),
                    "id": p.get("id"),
                    "title": p.get("title"),
                    "archived": bool(p.get("archived")),
                    "frozen": bool(p.get("frozen")),
                }
                for p in client.license_projects(str(license_["uuid"]))
            ]
        licenses.append(entry)
    return {"licenses": licenses}


def _client() -> ReviztoClient:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    tokens = TokenServiceProvider(settings.token_service_url, settings.token_service_secret)
    base_url = settings.base_url_override
    if base_url is None:
        tokens.current_token()
        base_url = tokens.base_url or ""
    return ReviztoClient(base_url, tokens)


@bp.get("/projects")
def list_projects() -> Response:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    cache: redis.Redis = current_app.extensions["redis"]
    cached = cache.get(CACHE_KEY)
    if cached is not None:
        response = Response(cached, mimetype="application/json")
        response.headers["X-Cache"] = "hit"
        return response
    body = catalogue(_client())
    cache.set(CACHE_KEY, json.dumps(body), ex=settings.projects_cache_seconds)
    response = jsonify(body)
    response.headers["X-Cache"] = "miss"
    return response
