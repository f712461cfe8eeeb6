"""A raw HTTP/1.1 exchange with an SE on 127.0.0.1, and the rules every answer to hostile input obeys.

httpx normalises what it sends (framing, header bytes), so the fuzzer writes its own bytes to a socket:
broken chunked framing, a Content-Length the body does not reach, non-UTF-8 header values. Each request
carries ``Connection: close``, so the answer ends where the connection does.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field

ANSWER_WITHIN_S = 5.0
LOOPBACK = "127.0.0.1"  # the only host the fuzzer ever contacts
INJECTED = b"x-injected"  # header name that hostile values try to smuggle into a response
_HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?")


@dataclass
class RawRequest:
    """What goes on the wire. ``complete`` is False when the framing promises more than is sent:
    the client then half-closes, and the SE may end the exchange without an answer."""

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    complete: bool = True
    label: str = ""

    def wire(self) -> bytes:
        lines = [self.method + b" " + self.target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        lines += [name + b": " + value for name, value in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    def __repr__(self) -> str:  # hypothesis prints examples; a multi-MB repr helps nobody
        return f"RawRequest({self.describe()[:300]})"

    def describe(self) -> str:
        shown = self.wire()
        return f"{self.label}: {shown[:600]!r}{' ...' if len(shown) > 600 else ''} ({len(shown)} bytes)"


@dataclass
class RawResponse:
    status: int | None  # None: the connection ended without an answer
    header_lines: list[bytes] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False
    refused: bool = False  # the SE reset the connection before reading all of the request


def exchange(port: int, request: RawRequest, timeout: float = ANSWER_WITHIN_S) -> RawResponse:
    """Send ``request`` and read until the SE closes the connection (or ``timeout`` passes)."""
    start = time.monotonic()
    data = b""
    timed_out = refused = False
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        try:
            sock.sendall(request.wire())
            if not request.complete:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # reset, broken pipe, not connected: all mean the SE stopped listening
            refused = True  # it closed while we were still sending (an oversized head, say)
        try:
            while True:
                sock.settimeout(max(timeout - (time.monotonic() - start), 0.001))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            timed_out = True
        except OSError:
            refused = refused or not data
    response = parse(data)
    response.seconds = time.monotonic() - start
    response.timed_out = timed_out
    response.refused = refused
    return response


def parse(data: bytes) -> RawResponse:
    """The final (non-1xx) response head; the body is not needed for any rule."""
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"response head without its end: {data[:300]!r}")
        lines = head.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        if not match:
            raise AssertionError(f"malformed status line: {lines[0][:200]!r}")
        status = int(match.group(1))
        if 100 <= status < 200:  # an interim answer (100 Continue); the final one follows
            data = rest
            continue
        return RawResponse(status=status, header_lines=lines[1:])
    return RawResponse(status=None)


def violations(request: RawRequest, response: RawResponse) -> list[str]:
    """Every rule this exchange breaks (empty: all is well)."""
    problems: list[str] = []
    if response.timed_out or response.seconds > ANSWER_WITHIN_S:
        problems.append(f"no answer within {ANSWER_WITHIN_S:g} s ({response.seconds:.2f} s)")
    elif response.status is None and request.complete and not response.refused:
        problems.append("the connection ended without an answer to a complete request")
    if response.status is not None and response.status >= 500:
        problems.append(f"server error {response.status}")
    for line in response.header_lines:
        # A CR or LF from the input inside a header value would have split this line (or left a
        # bare CR/LF in it); either way it no longer matches the header-line grammar.
        if not _HEADER_LINE.fullmatch(line):
            problems.append(f"malformed response header line {line[:200]!r}")
        elif line.split(b":", 1)[0].lower() == INJECTED:
            problems.append(f"a header smuggled from the input: {line[:200]!r}")
    return problems
