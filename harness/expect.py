"""Assertions for the conformance suite.

A failure names the requirement, the request, what came back, what was expected, and how to reproduce
it with curl. Plain ``assert`` would say ``401 != 201``; an implementer needs to know *which rule* and
*which request*.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from harness.client import exchange_of


class ConformanceFailure(AssertionError):
    """The target broke a requirement (a product defect, not a harness error)."""

    def __init__(self, req: str, message: str) -> None:
        self.requirement = req
        super().__init__(message)


def _body_preview(resp: httpx.Response, limit: int = 600) -> str:
    try:
        text = json.dumps(resp.json(), ensure_ascii=False)
    except ValueError:
        text = resp.content[:limit].decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


def describe_response(resp: httpx.Response) -> list[str]:
    lines = [f"  request:   {resp.request.method} {resp.request.url}"]
    lines.append(f"  got:       {resp.status_code} {_body_preview(resp)}")
    exchange = exchange_of(resp)
    if exchange is not None:
        lines.append(f"  reproduce: {exchange.curl()}")
    return lines


def fail(req: str, what: str, *, expected: Any, actual: Any = None, resp: httpx.Response | None = None) -> None:
    lines = [f"[{req}] {what}"]
    if resp is not None:
        lines[1:1] = describe_response(resp)
    if actual is not None or resp is None:
        lines.append(f"  actual:    {actual!r}")
    lines.append(f"  expected:  {expected}")
    raise ConformanceFailure(req, "\n".join(lines))


def expect(
    condition: object,
    *,
    req: str,
    what: str,
    expected: Any,
    actual: Any = None,
    resp: httpx.Response | None = None,
) -> None:
    if not condition:
        fail(req, what, expected=expected, actual=actual, resp=resp)


def expect_status(resp: httpx.Response, expected: int | Iterable[int], *, req: str, what: str = "") -> httpx.Response:
    allowed = (expected,) if isinstance(expected, int) else tuple(expected)
    if resp.status_code not in allowed:
        shown = " or ".join(str(code) for code in allowed)
        lines = [f"[{req}] {what or 'status code'}: expected {shown}, got {resp.status_code}"]
        lines += describe_response(resp)
        raise ConformanceFailure(req, "\n".join(lines))
    return resp


def expect_equal(actual: Any, expected: Any, *, req: str, what: str, resp: httpx.Response | None = None) -> None:
    if actual != expected:
        fail(req, what, expected=repr(expected), actual=actual, resp=resp)


def expect_json(resp: httpx.Response, *, req: str) -> Any:
    """The response body as JSON, or a failure that says the body is not JSON."""
    try:
        return resp.json()
    except ValueError:
        fail(req, "response body is not JSON", expected="a JSON body", resp=resp)
        raise  # unreachable: fail() raises
