"""The suite's HTTP client: real sockets (httpx), every exchange kept for the failure report.

Each request carries the requirement IDs of the test that sends it (``X-SE-Requirement``) so an SE's
own logs can be matched to the suite's. Exchanges are stored with the bearer token redacted and render
as a ``curl`` line that reproduces the request.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUIREMENT_HEADER = "X-SE-Requirement"
REDACTED = "<token>"
BODY_PREVIEW = 2000
DEFAULT_READ_TIMEOUT_S = 30.0  # generous: a read timeout of a ready SE is its failure (--se-read-timeout)
CONNECT_TIMEOUT_S = 5.0
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
EXCHANGE_KEY = "se_conformance.exchange"
FAULT_KEY = "se_conformance.transport_fault"
# Faults of an SE that accepted the connection: it reset or closed it after the request was sent, sent
# something that is not HTTP, or did not answer within the read timeout. These are the SE's protocol
# failures, judged by the check that looks at the response. A refused connection (nothing listens) or
# a fault of our own side (pool, local protocol) stays an exception: no verdict on the SE.
SE_TRANSPORT_FAULTS: tuple[type[httpx.HTTPError], ...] = (
    httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout, httpx.WriteError, httpx.WriteTimeout,
    httpx.DecodingError,
)  # fmt: skip
FAULT_STATUS = 0  # not an HTTP status: no check that wants a real status can pass on it
# A pooled keep-alive connection that the SE closed while it was idle (HTTP allows that at any time, e.g.
# after a 500) fails the *next* request before any byte of an answer. That request never reached the
# SE: it is sent once more on a new connection. A fault on a new connection is never retried.
STALE_CONNECTION_FAULTS: tuple[type[httpx.HTTPError], ...] = (
    httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
)  # fmt: skip


def transport_fault(response: httpx.Response) -> str | None:
    """Why the SE gave no valid answer to this request, or ``None`` for a real HTTP response."""
    found = response.extensions.get(FAULT_KEY)
    return str(found) if found else None


def faulted_response(request: httpx.Request, fault: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A stand-in for the answer the SE never gave properly: status 0, empty body, the fault attached,
    and whatever headers did arrive before the fault."""
    return httpx.Response(FAULT_STATUS, request=request, headers=headers, extensions={FAULT_KEY: fault})


def exchange_of(response: httpx.Response) -> Exchange | None:
    """The recorded exchange behind a response sent by ``SEClient``."""
    found = response.extensions.get(EXCHANGE_KEY)
    return found if isinstance(found, Exchange) else None


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    error: str | None = None
    streamed: bool = False  # the body was sent from an iterator and not kept

    def curl(self) -> str:
        parts = ["curl", "-sS", "-i", "-X", self.method]
        for name, value in self.request_headers.items():
            if name.lower() in {"host", "content-length", "accept-encoding", "connection", "user-agent"}:
                continue
            parts += ["-H", f"{name}: {value}"]
        if self.streamed:
            size = self.request_headers.get("content-length", "?")
            parts += ["--data-binary", f"@<streamed body, {size} bytes>"]
        elif self.request_body:
            ctype = self.request_headers.get("content-type", "")
            if ctype.startswith("multipart/"):
                parts += ["--data-binary", f"@<multipart body, {len(self.request_body)} bytes>"]
            else:
                parts += ["--data-binary", self.request_body.decode(errors="replace")[:BODY_PREVIEW]]
        parts.append(self.url)
        return " ".join(shlex.quote(p) for p in parts)

    def describe(self) -> str:
        lines = [f"> {self.method} {self.url}"]
        if self.error:
            lines.append(f"< (no response: {self.error})")
            return "\n".join(lines)
        lines.append(f"< {self.status}")
        for name, value in self.response_headers.items():
            lines.append(f"< {name}: {value}")
        body = self.response_body[:BODY_PREVIEW].decode(errors="replace")
        more = len(self.response_body) - BODY_PREVIEW
        lines.append(body + (f"… ({more} more bytes)" if more > 0 else ""))
        return "\n".join(lines)


def _json_field(response: httpx.Response, name: str) -> str | None:
    try:
        value = response.json().get(name)
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            value = f"Bearer {REDACTED}"
        out[name.lower()] = value
    return out


class _StaleConnection(Exception):
    """The pooled connection a request went out on had been closed by the SE while idle."""


class SEClient:
    """An httpx client bound to one SE, one token and one test's requirement IDs."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        requirement_ids: Iterable[str] = (),
        *,
        journal: list[Exchange] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_created: Callable[[Exchange, str], None] | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.requirement_ids = tuple(requirement_ids)
        # Shared between clients derived with with_token(), so a test's report shows all its traffic.
        self.exchanges: list[Exchange] = journal if journal is not None else []
        self._timeout = timeout
        # Told about every file this client created (201 from upload), so a run against a deployed SE
        # can delete exactly its own files afterwards.
        self._on_created = on_created
        self._on_exchange = on_exchange  # e.g. an Allure step per exchange, in the order they happen
        # Clients derived with with_token() share the connection pool; only the original closes it.
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False)

    def with_token(self, token: str | None) -> SEClient:
        return SEClient(self.base_url, token, self.requirement_ids, journal=self.exchanges, timeout=self._timeout,
                        on_created=self._on_created, on_exchange=self._on_exchange, http=self._http)  # fmt: skip

    def anonymous(self) -> SEClient:
        return self.with_token(None)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SEClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.requirement_ids:
            headers.setdefault(REQUIREMENT_HEADER, ",".join(self.requirement_ids))
        # A body given as an iterator (a large generated upload) is streamed, never held in memory.
        streamed = not isinstance(kwargs.get("content", b""), bytes | str)
        request = self._http.build_request(method, path, headers=headers, **kwargs)
        body = None if streamed else request.read() or None
        exchange = Exchange(method, str(request.url), _redact(request.headers), body, streamed=streamed)
        self.exchanges.append(exchange)
        head: httpx.Response | None = None
        try:
            try:
                head = self._send(request, stale_ok=not streamed)
            except _StaleConnection:
                request = self._http.build_request(method, path, headers=headers, **kwargs)
                head = self._send(request, stale_ok=False)
            response = head
            response.read()
        except SE_TRANSPORT_FAULTS as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            # What arrived before the fault (status line and headers of a body cut short) is kept for
            # checks that look only at headers; the stand-in still has status 0.
            received = dict(head.headers) if head is not None else {}
            exchange.response_headers = received
            self._announce(exchange)
            response = faulted_response(request, exchange.error, received)
            response.extensions[EXCHANGE_KEY] = exchange
            if head is not None:
                head.close()
            return response
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            self._announce(exchange)
            raise
        exchange.status = response.status_code
        exchange.response_headers = dict(response.headers)
        exchange.response_body = response.content
        response.extensions[EXCHANGE_KEY] = exchange
        self._announce(exchange)
        if self._on_created and response.status_code == 201 and method == "POST":
            file_id = _json_field(response, "file_id")
            if file_id:
                self._on_created(exchange, file_id)
        return response

    def _send(self, request: httpx.Request, *, stale_ok: bool) -> httpx.Response:
        """Send, streaming the answer; with ``stale_ok``, a fault before any answer on a reused pooled
        connection raises ``_StaleConnection`` (the caller sends again, once, on a new connection)."""
        connected: list[str] = []

        def trace(event: str, info: dict[str, Any]) -> None:  # httpcore's: a new connection is "connect_tcp"
            if "connect_tcp" in event:
                connected.append(event)

        if stale_ok:
            request.extensions["trace"] = trace
        try:
            return self._http.send(request, stream=True)
        except STALE_CONNECTION_FAULTS as exc:
            if stale_ok and not connected:
                raise _StaleConnection from exc
            raise

    def _announce(self, exchange: Exchange) -> None:
        if self._on_exchange is not None:
            self._on_exchange(exchange)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def upload(
        self,
        content: bytes,
        filename: str = "conformance.bin",
        content_type: str = "application/octet-stream",
        *,
        description: str | None = None,
        version: str | None = None,
        file_id: str | None = None,
        custom_attributes: Mapping[str, Any] | str | None = None,
        **extra_fields: str,
    ) -> httpx.Response:
        """``POST /api/v1/files/upload`` as multipart; ``custom_attributes`` may be raw text."""
        data: dict[str, str] = dict(extra_fields)
        if description is not None:
            data["description"] = description
        if version is not None:
            data["version"] = version
        if file_id is not None:
            data["file_id"] = file_id
        if custom_attributes is not None:
            data["custom_attributes"] = (
                custom_attributes if isinstance(custom_attributes, str) else json.dumps(custom_attributes)
            )
        files = {"file": (filename, content, content_type)}
        return self.post("/api/v1/files/upload", data=data, files=files)

    # -- reporting -------------------------------------------------------------------------------
    def transcript(self, last: int = 5) -> str:
        return "\n\n".join(f"{e.describe()}\nreproduce: {e.curl()}" for e in self.exchanges[-last:])
