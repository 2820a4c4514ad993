"""The API's own way to Revizto: a token from the token service, and a client for the
region the token belongs to (for `GET /v1/projects` and `GET /v1/credential`)."""

from __future__ import annotations

from flask import current_app

from api.settings import ApiSettings
from revizto.client import ReviztoClient
from service_common.rate_limit import ClusterRateLimit
from token_service.client import TokenServiceProvider


def token_service() -> TokenServiceProvider:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    return TokenServiceProvider(
        settings.token_service_url, settings.token_service_secret.get_secret_value()
    )


def revizto_client() -> ReviztoClient:
    settings: ApiSettings = current_app.config["API_SETTINGS"]
    tokens = token_service()
    base_url = settings.base_url_override
    if base_url is None:
        tokens.current_token()
        base_url = tokens.base_url or ""
    # The API's requests take their slots from the same cluster-wide limit as the workers'.
    gate: ClusterRateLimit | None = current_app.extensions["revizto_gate"]
    return ReviztoClient(base_url, tokens, gate=gate)
