"""Liveness, readiness and Prometheus metrics of the token service (no secret needed)."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service_common.problems import problem
from token_service.runtime import Runtime

bp = Blueprint("health", __name__)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["token_runtime"]
    return runtime


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when Redis answers, a credential exists and no re-authentication is pending."""
    runtime = _runtime()
    try:
        snapshot = runtime.store.snapshot()
    except redis.RedisError as exc:
        return problem(
            503,
            "Not ready",
            problem_type="not-ready",
            detail=f"Redis unreachable: {type(exc).__name__}",
        )
    if snapshot.reauth is not None:
        return problem(
            503,
            "Not ready",
            problem_type="reauth-required",
            detail="re-authentication required",
            reason=snapshot.reauth.reason,
        )
    if snapshot.state is None:
        return problem(
            503, "Not ready", problem_type="not-ready", detail="no credential loaded yet"
        )
    return jsonify({"status": "ready", "generation": snapshot.state.generation})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(_runtime().metrics.registry), content_type=CONTENT_TYPE_LATEST)
