"""A real HTTP server that receives webhooks and checks their Standard Webhooks signature
with the `standardwebhooks` package, as a customer's receiver would."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int  # what the receiver answered

    def payload(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Answers each delivery with the next of `statuses` (then 200), recording them all."""

    def __init__(self, secret: str, statuses: list[int] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self._statuses = list(statuses or [])
        self._verifier = Webhook(secret)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    receiver._verifier.verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                status = receiver._statuses.pop(0) if receiver._statuses else 200
                receiver.deliveries.append(Delivery(headers, body, verified, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/revizto"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
