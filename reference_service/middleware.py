"""Access log (one line per request, on stderr) and request metrics.

A plain ASGI middleware rather than ``BaseHTTPMiddleware``: the latter wraps streaming bodies in
extra tasks and buffers, which would cost throughput on multi-GiB transfers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_service.errors import CLIENT_CLOSED
from reference_service.metrics import Metrics

log = logging.getLogger("reference_service.access")


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False
        gone_early = False

        async def receive_wrapper() -> Message:
            nonlocal gone_early
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                gone_early = True
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            # A client that left before the answer started gets 499 whatever the app made of it
            # (FastAPI turns a disconnect while reading a JSON body into a 400): an abort is the
            # client's doing and must neither look like a server error nor like a bad request.
            if gone_early:
                status = CLIENT_CLOSED
            elapsed = time.perf_counter() - start
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            client = scope.get("client") or ("-", 0)
            # The raw path is logged with %r so that hostile bytes cannot forge log lines.
            log.info("%s %s %r %d %.1fms", client[0], scope["method"], scope["path"], status, elapsed * 1000)
