"""API-key authentication for every /v1 route: `Authorization: Bearer <key>`; the caller's
key (its name, and whether it is an admin key) is kept in `g.api_key`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from api.keys import ApiKey, ApiKeys
from service_common.auth import bearer_token
from service_common.problems import problem


def require_api_key() -> Response | None:
    keys: ApiKeys = current_app.config["API_SETTINGS"].keys
    found = keys.identify(bearer_token(request.headers.get("Authorization")))
    if found is not None:
        g.api_key = found
        return None
    return problem(
        401,
        "Unauthorized",
        problem_type="unauthorized",
        detail="send Authorization: Bearer <one of EXPORTER_API_KEYS>",
        headers={"WWW-Authenticate": 'Bearer realm="revizto-exporter"'},
    )


def caller() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def protect(blueprint: Blueprint) -> Blueprint:
    blueprint.before_request(require_api_key)
    return blueprint
