"""Assertions for the conformance suite, each one a recorded check of one requirement.

A failure names the requirement, the request, what came back, what was expected, and how to reproduce
it with curl. Plain ``assert`` would say ``401 != 201``; an implementer needs to know *which rule* and
*which request*. Every call also lands in the test's ledger (``harness.ledger``), passed or failed, so
the report can say which requirements a test really checked.

Preparation goes under :func:`arrange`: a check that fails there blocks the test instead of failing the
requirement under test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import httpx

from harness import ledger
from harness.client import exchange_of, transport_fault
from harness.ledger import CHECK, TRANSPORT, Blocked

__all__ = [
    "Blocked",
    "ConformanceFailure",
    "arrange",
    "covered",
    "expect",
    "expect_answered",
    "expect_equal",
    "expect_json",
    "expect_status",
    "fail",
    "passed",
]  # fmt: skip


class ConformanceFailure(AssertionError):
    """The target broke a requirement (a product defect, not a harness error)."""

    def __init__(self, req: str, message: str, kind: str = CHECK) -> None:
        self.requirement = req
        self.kind = kind
        super().__init__(message)


def _body_preview(resp: httpx.Response, limit: int = 600) -> str:
    try:
        text = json.dumps(resp.json(), ensure_ascii=False)
    except ValueError:
        head = resp.content[:limit]
        try:
            text = head.decode()
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3 or len(head) == len(resp.content):
                # A binary body (a download) shown as text is noise; its size and a hex lead say enough.
                return f"<{len(resp.content)} bytes of binary content, starting {head[:16].hex()}>"
            text = head[: exc.start].decode()  # the preview's cut fell inside a multi-byte character
        if len(resp.content) > limit:
            return text + "…"
    return text if len(text) <= limit else text[:limit] + "…"


def describe_response(resp: httpx.Response) -> list[str]:
    lines = [f"  request:   {resp.request.method} {resp.request.url}"]
    fault = transport_fault(resp)
    if fault is not None:
        lines.append(f"  got:       no valid HTTP answer ({fault})")
    else:
        lines.append(f"  got:       {resp.status_code} {_body_preview(resp)}")
    exchange = exchange_of(resp)
    if exchange is not None:
        lines.append(f"  reproduce: {exchange.curl()}")
    return lines


def _raise(req: str, lines: list[str], kind: str = CHECK) -> NoReturn:
    check = ledger.current().record(req, False, lines[0], kind)
    _announce(check)
    raise ConformanceFailure(req, "\n".join(lines), kind)


def _announce(check: ledger.Check) -> None:
    hook = ledger.current().on_check
    if hook is not None:
        hook(check)


def passed(req: str, what: str) -> None:
    """Record a check of ``req`` that passed (the ``expect*`` functions do this themselves)."""
    _announce(ledger.current().record(req, True, f"[{req}] {what}"))


def expect_answered(resp: httpx.Response, *, req: str, what: str) -> httpx.Response:
    """The SE gave a complete HTTP answer (any status); else ``req`` fails, labelled transport."""
    _transport(req, what, resp)
    passed(req, f"{what}: answered {resp.status_code}")
    return resp


# A download whose body ends before its declared length (a dropped chunk, or a Content-Length that
# overstates) did not deliver the exact bytes, wherever it shows up: SE-FILE-018's failure. (The header
# itself is SE-FILE-019's, checked on its own: a cut-short answer keeps the headers that arrived.)
# Every other fault fails the check that looks at the answer.
BODY_FRAMING_OWNER = "SE-FILE-018"
_BODY_FRAMING = "message body"  # httpx: "peer closed connection without sending complete message body: ..."


def fault_owner(resp: httpx.Response, fault: str, req: str) -> str:
    if _BODY_FRAMING in fault and resp.request.url.path.endswith("/download"):
        return BODY_FRAMING_OWNER
    return req


def _transport(req: str, what: str, resp: httpx.Response | None) -> None:
    """A response the SE never properly gave fails the check that looks at it, labelled transport."""
    fault = None if resp is None else transport_fault(resp)
    if resp is None or fault is None:
        return
    owner = fault_owner(resp, fault, req)
    _raise(owner, [f"[{owner}] {what}: transport fault, the SE broke the HTTP protocol", *describe_response(resp),
                   "  expected:  a complete, well-formed HTTP response"], TRANSPORT)  # fmt: skip


def fail(req: str, what: str, *, expected: Any, actual: Any = None, resp: httpx.Response | None = None) -> NoReturn:
    _transport(req, what, resp)
    lines = [f"[{req}] {what}"]
    if resp is not None:
        lines[1:1] = describe_response(resp)
    if actual is not None or resp is None:
        lines.append(f"  actual:    {actual!r}")
    lines.append(f"  expected:  {expected}")
    _raise(req, lines)


def expect(
    condition: object,
    *,
    req: str,
    what: str,
    expected: Any,
    actual: Any = None,
    resp: httpx.Response | None = None,
) -> None:
    _transport(req, what, resp)
    if not condition:
        fail(req, what, expected=expected, actual=actual, resp=resp)
    passed(req, what)


def expect_status(resp: httpx.Response, expected: int | Iterable[int], *, req: str, what: str = "") -> httpx.Response:
    allowed = (expected,) if isinstance(expected, int) else tuple(expected)
    shown = _codes(expected, allowed)
    _transport(req, what or f"status {shown}", resp)
    if resp.status_code not in allowed:
        _raise(req, [f"[{req}] {what or 'status code'}: expected {shown}, got {resp.status_code}",
                     *describe_response(resp)])  # fmt: skip
    passed(req, f"{what or 'status code'} is {resp.status_code}")
    return resp


def _codes(expected: int | Iterable[int], allowed: tuple[int, ...]) -> str:
    """``201``, ``400 or 422``, ``200..299`` (a range reads as one, not as a hundred alternatives)."""
    if isinstance(expected, range) and expected.step == 1 and len(expected) > 2:
        return f"{expected.start}..{expected.stop - 1}"
    return " or ".join(str(code) for code in allowed)


def expect_equal(actual: Any, expected: Any, *, req: str, what: str, resp: httpx.Response | None = None) -> None:
    _transport(req, what, resp)
    if actual != expected:
        fail(req, what, expected=repr(expected), actual=actual, resp=resp)
    passed(req, what)


def expect_json(resp: httpx.Response, *, req: str) -> Any:
    """The response body as JSON, or a failure that says the body is not JSON."""
    _transport(req, "JSON body", resp)
    try:
        body = resp.json()
    except ValueError:
        fail(req, "response body is not JSON", expected="a JSON body", resp=resp)
    passed(req, "response body is JSON")
    return body


@contextlib.contextmanager
def arrange(what: str) -> Iterator[None]:
    """Prepare a check: a check that fails in here blocks the test instead of failing its requirements.

    ``what`` says what is being prepared (``"fill the list with 101 files"``). The checks made inside
    name the requirement that covers each request (``upload_ok(..., req="SE-FILE-001")``); the blocked
    message repeats it, so the implementer is sent to the rule the SE actually broke.
    """
    open_ = ledger.current().arranging
    open_.append(what)
    try:
        yield
    except ConformanceFailure as exc:
        raise Blocked(what, covered_by=exc.requirement, cause=str(exc)) from None
    finally:
        open_.pop()


@contextlib.contextmanager
def covered(what: str, *, by: str, req: str | None) -> Iterator[str]:
    """A step whose own rule is requirement ``by``: in a test of ``by`` (``req == by``) it is a check of
    it; in any other test it prepares (blocks on failure, naming ``by``). Yields the ID to check with."""
    if req == by:
        yield by
        return
    with arrange(what):
        yield by
