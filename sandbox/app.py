"""The sandbox's Flask app factory: reading it tells you every route and every dependency."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from sandbox.auth import TokenAuthority
from sandbox.config import SandboxConfig
from sandbox.dataset import build_dataset
from sandbox.envelope import GENERIC_FAILURE, failure
from sandbox.faults import FaultSettings, FaultState
from sandbox.fixtures import load_fixture_projects
from sandbox.paging import ParameterError
from sandbox.permissions import Permissions
from sandbox.routes_control import control
from sandbox.routes_data import ApiError, data
from sandbox.routes_oauth import oauth
from sandbox.state import EXTENSION_KEY, SandboxState, current_state
from sandbox.stats import Stats

log = logging.getLogger(__name__)


class InsertionOrderJSON(DefaultJSONProvider):
    """Keeps keys in insertion order: captured issues go out exactly as they came in."""

    sort_keys = False


def create_app(config: SandboxConfig | None = None) -> Flask:
    """Build the fake Revizto for `config` (defaults if None)."""
    config = config or SandboxConfig()
    fixtures = load_fixture_projects(config.fixtures) if config.fixtures else []
    dataset = build_dataset(config, fixtures)
    auth = TokenAuthority(
        subject=dataset.user.email,
        issuer={"host": config.host, "port": config.port, "protocol": "http"},
        lifetime_s=config.token_lifetime_s,
    )
    for code in config.access_codes:
        auth.register_access_code(code)
    initial_faults = FaultSettings(
        data_latency_ms=config.latency_ms,
        error_rate=config.error_rate,
        rate_limit_rps=config.rate_limit_rps or None,
        rotate_refresh_tokens=config.rotate_refresh_tokens,
        expired_token_status=config.expired_token_status,
    )

    app = Flask(__name__)
    app.json = InsertionOrderJSON(app)
    app.extensions[EXTENSION_KEY] = SandboxState(
        config=config,
        dataset=dataset,
        auth=auth,
        faults=FaultState(initial_faults, seed=config.seed),
        stats=Stats(),
        permissions=Permissions(),
    )
    app.register_blueprint(data)
    app.register_blueprint(oauth)
    app.register_blueprint(control)
    app.after_request(_count_response)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ParameterError, _parameter_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    log.info(
        "sandbox built seed=%d licences=%d projects=%d fixture_projects=%d",
        config.seed,
        len(dataset.licences),
        len(dataset.projects),
        len(fixtures),
    )
    return app


def _count_response(response: Response) -> Response:
    if request.blueprint != "control":
        current_state().stats.response(response.status_code)
    return response


def _api_error(error: ApiError) -> Response:
    return failure(error.result)


def _parameter_error(error: ParameterError) -> Response:
    return failure(
        GENERIC_FAILURE, f"Invalid parameter: {error.field}", data={"fields": [error.field]}
    )


def _http_error(error: HTTPException) -> Response:
    # Revizto answers unknown paths with a plain 404 (docs/revizto-api.md §3f); keep the body
    # JSON for clients.
    status = error.code or 500
    message = "Not found" if status == 404 else error.name
    return failure(GENERIC_FAILURE, message, status=status)


def _unexpected_error(error: Exception) -> Response:
    log.exception("unhandled error path=%s", request.path)
    return failure(GENERIC_FAILURE, "Internal server error", status=500)
