"""Liveness, readiness (Redis reachable) and Prometheus metrics of the job API."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.models import Health, dump
from service_common.problems import problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(dump(Health(status="ok")))


@bp.get("/readyz")
def readyz() -> Response:
    client: redis.Redis = current_app.extensions["redis"]
    try:
        client.ping()
    except redis.RedisError as exc:
        return problem(
            503,
            "Not ready",
            problem_type="not-ready",
            detail=f"Redis unreachable: {type(exc).__name__}",
        )
    return jsonify(dump(Health(status="ready")))


@bp.get("/metrics")
def metrics() -> Response:
    registry: CollectorRegistry = current_app.extensions["metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
