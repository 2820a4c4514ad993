"""A webhook receiver for docker/compose-test.sh: prints each POSTed JSON body as one line.

Alertmanager's webhook notifications land here during `make compose-test`; the test reads
them back from the container's log. GET /healthz answers 200 for the health check.

    python compose_test_webhook.py --port 9000
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(200 if self.path == "/healthz" else 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            document = json.loads(body)
        except ValueError:
            self._answer(400)
            return
        print(json.dumps({"path": self.path, "body": document}), flush=True)
        self._answer(200)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return  # stdout carries only the notifications


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("0.0.0.0", args.port), Receiver)  # noqa: S104 (in a container)
    print(f"listening on :{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
