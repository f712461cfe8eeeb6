"""Access log (one line per request, on stderr) and request metrics.

A plain ASGI middleware rather than ``BaseHTTPMiddleware``: the latter wraps streaming bodies in
extra tasks and buffers, which would cost throughput on multi-GiB transfers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            client = scope.get("client") or ("-", 0)
            # The raw path is logged with %r so that hostile bytes cannot forge log lines.
            log.info("%s %s %r %d %.1fms", client[0], scope["method"], scope["path"], status, elapsed * 1000)
