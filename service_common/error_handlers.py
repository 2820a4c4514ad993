"""Error handlers every service registers: bad input, Redis down, HTTP errors, the rest."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from service_common.problems import problem
from service_common.validation import MAX_BODY_BYTES, InvalidBody

log = logging.getLogger(__name__)


def register_common_error_handlers(app: Flask, *, store: str, store_problem: str) -> None:
    """`store` names what Redis holds for this service (for the 503 when it is down) and
    `store_problem` that 503's problem type. Also caps request bodies (413)."""

    @app.errorhandler(InvalidBody)
    def invalid_body(exc: InvalidBody) -> Response:
        return problem(
            exc.status,
            "Invalid request",
            problem_type="invalid-request",
            detail=exc.detail,
            errors=exc.errors,
        )

    @app.errorhandler(redis.RedisError)
    def redis_unavailable(exc: redis.RedisError) -> Response:
        log.error("%s unavailable error=%s", store, type(exc).__name__)
        return problem(
            503,
            f"{store.capitalize()} unavailable",
            problem_type=store_problem,
            detail="Redis is unreachable.",
            headers={"Retry-After": "2"},
        )

    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # Keep what the exception says in headers (Allow on a 405).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        if exc.code == 413:
            return problem(
                413,
                "Request body too large",
                problem_type="body-too-large",
                detail=f"request bodies are limited to {MAX_BODY_BYTES} bytes",
                errors=[{"field": "body", "message": f"larger than {MAX_BODY_BYTES} bytes"}],
            )
        return problem(exc.code or 500, exc.name, detail=exc.description, headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", detail="see the service's log")
