"""The job API's Flask application: `create_app` shows every route and dependency."""

from __future__ import annotations

import logging
import os

import redis
from flask import Flask, Response
from prometheus_client import CollectorRegistry
from werkzeug.routing import BaseConverter

from api import credential, exports, health, openapi, projects
from api.enqueue import task_dispatcher
from api.idempotency import IdempotencyStore
from api.metrics import install_metrics, rate_limit_observers
from api.settings import ApiSettings
from jobs.layout import JOB_ID
from jobs.storage import StorageUnavailable, open_storage
from jobs.store import JobStore
from revizto.errors import ReviztoError, TransientError
from service_common.error_handlers import register_common_error_handlers
from service_common.problems import problem
from service_common.rate_limit import cluster_rate_limit
from token_service.client import ReauthRequired

log = logging.getLogger(__name__)


class JobIdConverter(BaseConverter):
    """A job id in a route: 32 hex digits, so `/v1/exports/<id>:cancel` never matches the
    route of the job itself (and `Allow` lists only what each URL supports)."""

    regex = JOB_ID.pattern


def create_app(settings: ApiSettings) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["job_id"] = JobIdConverter
    app.config["API_SETTINGS"] = settings
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
    )
    registry = CollectorRegistry()
    app.extensions["redis"] = client
    app.extensions["jobs"] = JobStore(client)
    app.extensions["idempotency"] = IdempotencyStore(client)
    # The export files: EXPORT_STORAGE_URL's bucket, or folders under EXPORT_DIR.
    app.extensions["storage"] = open_storage(
        settings.storage_url, settings.export_dir, os.environ, part_size=settings.s3_part_bytes
    )
    app.extensions["dispatcher"] = task_dispatcher(settings.redis_url)
    app.extensions["metrics_registry"] = registry
    on_wait, on_throttled = rate_limit_observers(registry)
    # One gate for the process: every request thread shares its local fallback schedule.
    app.extensions["revizto_gate"] = cluster_rate_limit(
        settings.redis_url, settings.rate_limit, on_wait=on_wait, on_throttled=on_throttled
    )

    app.register_blueprint(exports.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(credential.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)
    install_metrics(app, registry, client)
    register_error_handlers(app)
    return app


def register_error_handlers(app: Flask) -> None:
    register_common_error_handlers(app, store="job store", store_problem="store-unavailable")

    @app.errorhandler(ReauthRequired)
    def reauth_required(exc: ReauthRequired) -> Response:
        return problem(
            503,
            "Revizto re-authentication required",
            problem_type="reauth-required",
            detail="The shared Revizto credential needs a new access code (see the README).",
            reason=exc.reason,
        )

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(exc: StorageUnavailable) -> Response:
        log.error("export storage unavailable error=%s", exc)
        return problem(
            503,
            "Export storage unavailable",
            problem_type="storage-unavailable",
            detail="The storage of the export files did not answer; retry shortly.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(TransientError)
    def revizto_unavailable(exc: TransientError) -> Response:
        return problem(
            503,
            "Revizto unavailable",
            problem_type="revizto-unavailable",
            detail=str(exc),
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(ReviztoError)
    def revizto_error(exc: ReviztoError) -> Response:
        return problem(502, "Revizto error", problem_type="revizto-error", detail=str(exc))
