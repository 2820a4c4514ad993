"""API-key authentication for every /v1 route: `Authorization: Bearer <key>`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from service_common.auth import bearer_token, matches_any
from service_common.problems import problem


def require_api_key() -> Response | None:
    presented = bearer_token(request.headers.get("Authorization"))
    if matches_any(presented, current_app.config["EXPORTER_API_KEYS"]):
        g.api_key = presented
        return None
    return problem(
        401,
        "Unauthorized",
        problem_type="unauthorized",
        detail="send Authorization: Bearer <one of EXPORTER_API_KEYS>",
        headers={"WWW-Authenticate": 'Bearer realm="revizto-exporter"'},
    )


def protect(blueprint: Blueprint) -> Blueprint:
    blueprint.before_request(require_api_key)
    return blueprint
