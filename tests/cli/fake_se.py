"""A tiny storage element for the command line's tests: it answers only what ``fake_suite`` asks.

Started by the local target as ``python tests/cli/fake_se.py`` with the launch contract's environment.
``FAKE_SE_BROKEN=must`` breaks a MUST requirement (``/api/v1/info`` answers 500),
``FAKE_SE_BROKEN=should`` a SHOULD one (its OpenAPI document lists no file endpoint). ``/api/v1/capacity`` is never
implemented (501): the suite waives it.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKEN = os.environ.get("FAKE_SE_BROKEN", "")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health/ready":
            self._send(200, {"status": "ready"})
        elif self.path == "/health/live":
            self._send(200, {"status": "ok"})
        elif self.path == "/api/v1/info":
            if BROKEN == "must":
                self._send(500, {"detail": "broken on purpose"})
                return
            self._send(
                200,
                {
                    "name": "fake",
                    "version": "fake-1.0",
                    "mode": os.environ.get("APP_MODE", "edit"),
                    "file_count": 0,
                },
            )
        elif self.path == "/openapi.json":
            paths: dict[str, object] = {} if BROKEN == "should" else {"/api/v1/files/upload": {}, "/api/v1/files": {}}
            self._send(200, {"openapi": "3.1.0", "paths": paths})
        else:
            self._send(501, {"detail": "not implemented"})

    def log_message(self, format: str, *args: object) -> None:
        print(f"fake-se: {format % args}", flush=True)


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ["SERVER_HOST"], int(os.environ["SERVER_PORT"])), Handler)
    print(f"fake-se: listening on {server.server_address}", flush=True)
    server.serve_forever()
