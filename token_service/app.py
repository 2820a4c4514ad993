"""The token service's Flask application: `create_app` shows every route and dependency."""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from revizto.errors import (
    AccessCodeRejected,
    AccessCodeWrongRegion,
    ReviztoError,
    TransientError,
)
from service_common.error_handlers import register_common_error_handlers
from service_common.problems import problem
from token_service import health, routes
from token_service.manager import CredentialRefused, ReauthRequired, TokenUnavailable
from token_service.runtime import Runtime
from token_service.sealing import SealingProblem

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.config["TOKEN_SERVICE_SECRET"] = runtime.settings.secret.get_secret_value()
    app.config["REVIZTO_BASE_URL"] = runtime.base_url
    app.extensions["token_runtime"] = runtime
    app.extensions["token_manager"] = runtime.manager
    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    register_error_handlers(app)

    @app.after_request
    def count(response: Response) -> Response:
        # Only the /v1 routes, by rule template: the label set stays bounded.
        rule = request.url_rule.rule if request.url_rule is not None else ""
        if rule.startswith("/v1/"):
            runtime.metrics.requests.labels(route=rule, status=str(response.status_code)).inc()
        return response

    return app


def register_error_handlers(app: Flask) -> None:
    register_common_error_handlers(app, store="token state", store_problem="state-unavailable")

    @app.errorhandler(ReauthRequired)
    def reauth_required(exc: ReauthRequired) -> Response:
        return problem(
            503,
            "Re-authentication required",
            problem_type="reauth-required",
            detail="The Revizto refresh token is expired or revoked. Install a new access code: "
            "python -m token_service auth --access-code CODE, or PUT /v1/credentials.",
            reason=exc.reason,
        )

    @app.errorhandler(TokenUnavailable)
    def token_unavailable(exc: TokenUnavailable) -> Response:
        return problem(
            503,
            "Access token temporarily unavailable",
            problem_type="token-unavailable",
            detail="Refreshing the access token failed; try again shortly.",
            reason=exc.reason,
            headers={"Retry-After": str(max(1, round(exc.retry_after)))},
        )

    @app.errorhandler(CredentialRefused)
    def credential_refused(exc: CredentialRefused) -> Response:
        return problem(
            422,
            "Refresh token rejected",
            problem_type="refresh-token-rejected",
            detail="Revizto refused the refresh token (expired, used, or mistyped). The "
            "current credential is unchanged and still in use.",
        )

    @app.errorhandler(SealingProblem)
    def credential_unreadable(exc: SealingProblem) -> Response:
        log.error("stored credential cannot be opened error=%s", exc)
        return problem(
            503,
            "Credential unreadable",
            problem_type="credential-unreadable",
            detail="The stored tokens cannot be decrypted with the configured "
            "TOKEN_ENCRYPTION_KEY; see the token service log.",
        )

    @app.errorhandler(AccessCodeWrongRegion)
    def access_code_wrong_region(exc: AccessCodeWrongRegion) -> Response:
        return problem(
            422,
            "Access code of another region",
            problem_type="access-code-wrong-region",
            detail=f"{exc.message}. This service talks to {app.config['REVIZTO_BASE_URL']}.",
        )

    @app.errorhandler(AccessCodeRejected)
    def access_code_rejected(exc: AccessCodeRejected) -> Response:
        return problem(
            422,
            "Access code rejected",
            problem_type="access-code-rejected",
            detail="Revizto refused the access code: it is used, older than 15 minutes, or not "
            "an access code. Get a new one from Revizto and try again.",
        )

    @app.errorhandler(TransientError)
    def revizto_unavailable(exc: TransientError) -> Response:
        return problem(
            502, "Revizto unavailable", problem_type="revizto-unavailable", detail=str(exc)
        )

    @app.errorhandler(ReviztoError)
    def revizto_error(exc: ReviztoError) -> Response:
        return problem(
            502, "Unexpected reply from Revizto", problem_type="revizto-error", detail=str(exc)
        )
