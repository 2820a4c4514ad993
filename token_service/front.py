"""The token service's ASGI front: answers `GET /v1/token` itself, hands the rest to Flask.

`GET /v1/token` is the one hot route: every worker process asks it, and at the moment
the access token expires they all ask at once. Served by threads, each waiting caller
held a thread through the refresh and 200 of them then woke together to queue for the
GIL (the storm benchmark's p99 was the refresh plus a full 200-call burst). Here the
callers wait on the event loop for one shared read (`SharedRead`), whose reply is
rendered once and sent to all of them.

Only an authorised `GET /v1/token` that succeeds is answered here, and counted in the
same metric as Flask's replies. Everything else, including a refused secret and a read
that failed, goes to the Flask application (through a2wsgi's thread pool), so its
handlers stay the one place where an error becomes problem+json; a failed read's
exception travels with the request (`FAILED_READ`) so it is rendered without reading
again.
"""

from __future__ import annotations

from typing import Any, cast

from a2wsgi import WSGIMiddleware
from a2wsgi.asgi_typing import Receive, Scope, Send
from flask import Flask, Response

from service_common.auth import bearer_token, matches_any
from token_service.routes import FAILED_READ, TOKEN_PATH, token_body
from token_service.runtime import Runtime
from token_service.shared_read import SharedRead

# A rendered reply: its body and its headers, as ASGI sends them.
Rendered = tuple[bytes, list[tuple[bytes, bytes]]]


class TokenFront:
    def __init__(self, runtime: Runtime, app: Flask) -> None:
        self._flask = WSGIMiddleware(app, workers=runtime.settings.threads)  # type: ignore[arg-type]
        self._secret = runtime.settings.secret.get_secret_value()
        self._answered = runtime.metrics.requests.labels(route=TOKEN_PATH, status="200")
        manager, base_url = runtime.manager, runtime.base_url

        def read() -> Rendered:
            body = token_body(manager.get_token(), manager, base_url)
            # By Flask's own JSON provider, as jsonify renders it: a caller cannot tell
            # which layer answered.
            reply = cast(Response, app.json.response(body))  # an app.response_class
            headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in reply.headers.items()
            ]
            return reply.get_data(), headers

        self._read = SharedRead(read)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._answers(scope):
            await self._flask(scope, receive, send)
            return
        try:
            body, headers = await self._read()
        except Exception as exc:
            # An extra scope key: a2wsgi hands the whole scope on as environ["asgi.scope"].
            await self._flask(cast(Scope, {**scope, FAILED_READ: exc}), receive, send)
            return
        self._answered.inc()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _answers(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != TOKEN_PATH:
            return False
        return matches_any(bearer_token(_authorization(scope)), [self._secret])


def _authorization(scope: Any) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None
