"""SEClient over a real loopback HTTP server: requirement header, journal, redaction, curl line."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from harness.client import REQUIREMENT_HEADER, SEClient, exchange_of
from harness.expect import ConformanceFailure, expect_status


class Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = 201 if self.path.endswith("/upload") else 200
        payload = {"headers": dict(self.headers), "size": len(body), "file_id": "f-1"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requirement_header_and_redacted_journal(server_url: str) -> None:
    with SEClient(server_url, "secret-token", ["SE-X-001", "SE-X-002"]) as client:
        resp = client.get("/thing")
    seen = resp.json()["headers"]
    assert seen[REQUIREMENT_HEADER] == "SE-X-001,SE-X-002"
    assert seen["Authorization"] == "Bearer secret-token"
    exchange = exchange_of(resp)
    assert exchange is not None
    assert exchange.status == 200
    assert "secret-token" not in exchange.curl()
    assert "<token>" in exchange.curl()
    assert exchange.curl().endswith(f"{server_url}/thing")


def test_upload_reports_created_files(server_url: str) -> None:
    created: list[str] = []
    with SEClient(server_url, on_created=lambda _e, fid: created.append(fid)) as client:
        resp = client.upload(b"abc", filename="a.txt", custom_attributes={"k": 1})
    assert resp.status_code == 201
    assert created == ["f-1"]


def test_expect_status_failure_names_requirement_request_and_reproducer(server_url: str) -> None:
    with SEClient(server_url) as client:
        resp = client.get("/thing")
    with pytest.raises(ConformanceFailure) as info:
        expect_status(resp, 201, req="SE-X-009", what="create")
    text = str(info.value)
    assert "[SE-X-009] create: expected 201, got 200" in text
    assert f"GET {server_url}/thing" in text
    assert "reproduce: curl" in text


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (bytes(range(256)) * 4, "<1024 bytes of binary content, starting 000102030405060708090a0b0c0d0e0f>"),
        ("é".encode() * 400, "é" * 300 + "…"),  # the cut falls inside a character: text up to it, not binary
        (b"plain words", "plain words"),
    ],
    ids=["binary", "utf8-cut-mid-character", "text"],
)
def test_failure_shows_a_binary_body_by_size_not_as_garbage(content: bytes, shown: str) -> None:
    resp = httpx.Response(200, content=content, request=httpx.Request("GET", "http://127.0.0.1:1/x"))
    with pytest.raises(ConformanceFailure) as failure:
        expect_status(resp, 206, req="SE-FILE-024", what="range")
    assert f"got:       200 {shown}" in str(failure.value)


def _serve_resetting_after_first_answer(listener: socket.socket) -> None:
    """Answer the first request on each connection with a keep-alive 500, then, once the next request has
    arrived on it, reset the connection without reading it (what an SE closing a connection after an
    error does when the client's next request is already on its way)."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), b"0"))  # fmt: skip
            while len(rest) < length:
                rest += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
            conn.recv(1, socket.MSG_PEEK)  # the next request is here: drop it, unread, with a reset
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_stale_pooled_connection_is_replaced_not_blamed() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve_resetting_after_first_answer, args=(listener,), daemon=True).start()
    try:
        with SEClient(f"http://127.0.0.1:{listener.getsockname()[1]}", None, ("SE-FILE-001",)) as client:
            statuses = [client.post("/x", content=b"body").status_code for _ in range(4)]
        assert statuses == [500] * 4, "every request reached the server and got its answer"
    finally:
        listener.close()
