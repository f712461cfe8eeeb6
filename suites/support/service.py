"""Reading the public service endpoints (contract §2) and the mode they report (§4)."""

from __future__ import annotations

from typing import Any

import httpx

from harness.client import SEClient
from harness.expect import expect, expect_json, expect_status

MODE_REPORTERS = ("/", "/api/v1/info", "/api/v1/capacity", "/health/ready")


def get_object(client: SEClient, path: str, *, req: str) -> tuple[dict[str, Any], httpx.Response]:
    """GET ``path`` (200 required) and its JSON object body."""
    resp = client.get(path)
    expect_status(resp, 200, req=req, what=f"GET {path}")
    body = expect_json(resp, req=req)
    expect(isinstance(body, dict), req=req, what=f"GET {path} answers a JSON object", expected="an object",
           resp=resp)  # fmt: skip
    return body, resp


def expect_mode_reported(client: SEClient, mode: str, *, req: str = "SE-SVC-015") -> None:
    """/, info, capacity and ready all report ``mode``."""
    seen = {path: get_object(client, path, req=req)[0].get("mode") for path in MODE_REPORTERS}
    expect(all(value == mode for value in seen.values()), req=req,
           what="the mode reported by /, info, capacity and ready", expected=f"{mode!r} everywhere",
           actual=seen)  # fmt: skip


def expected_info_status(mode: str) -> str:
    return "maintenance" if mode == "ar" else "operational"
