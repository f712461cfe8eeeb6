"""An SE that breaks the HTTP protocol: its faults fail the check that looks at the answer (labelled
transport), a refused connection stays an error, and the ledger knows which requirement failed.

The "SE" is a raw socket server on 127.0.0.1 that misbehaves on purpose, path by path.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from harness import ledger
from harness.client import SEClient, transport_fault
from harness.expect import ConformanceFailure, arrange, expect_equal, expect_status
from harness.ledger import TRANSPORT, Blocked
from harness.net import free_port

GOOD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _serve(conn: socket.socket) -> None:
    with conn:
        request = conn.recv(65536).decode(errors="replace")
        path = request.split(" ", 2)[1] if " " in request else "/"
        if path == "/close":  # closes without answering
            return
        if path == "/garbage":
            conn.sendall(b"this is not HTTP\r\n\r\n")
        elif path == "/hang":
            time.sleep(3)
        elif path.endswith("/download"):  # declares 10 bytes, sends 4 and closes
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcd")
        else:
            conn.sendall(GOOD)


@pytest.fixture(scope="module")
def bad_se() -> Iterator[str]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    server.close()


@pytest.fixture
def book() -> Iterator[ledger.Ledger]:
    with ledger.opened(ledger.Ledger()) as opened:
        yield opened


@pytest.mark.parametrize("path", ["/close", "/garbage"])
def test_a_broken_answer_fails_the_check_that_reads_it(bad_se: str, book: ledger.Ledger, path: str) -> None:
    with SEClient(bad_se) as client:
        resp = client.get(path)  # no exception: the fault travels in the response
    assert transport_fault(resp) is not None
    assert resp.status_code == 0
    with pytest.raises(ConformanceFailure) as info:
        expect_status(resp, 200, req="SE-X-001", what="read")
    assert info.value.requirement == "SE-X-001"
    assert info.value.kind == TRANSPORT
    assert "transport fault" in str(info.value)
    assert [(c.requirement, c.passed, c.kind) for c in book.checks] == [("SE-X-001", False, TRANSPORT)]


def test_a_read_timeout_is_the_se_s_fault(bad_se: str, book: ledger.Ledger) -> None:
    with SEClient(bad_se, timeout=httpx.Timeout(0.5, connect=2)) as client:
        resp = client.get("/hang")
    assert "ReadTimeout" in (transport_fault(resp) or "")
    with pytest.raises(ConformanceFailure):
        expect_status(resp, 200, req="SE-X-002")


def test_a_download_cut_short_is_the_exact_bytes_rule_and_keeps_its_headers(bad_se: str, book: ledger.Ledger) -> None:
    with SEClient(bad_se) as client:
        resp = client.get("/api/v1/files/x/download")
    expect_equal(resp.headers.get("content-length"), "10", req="SE-FILE-019", what="header")  # headers survive
    with pytest.raises(ConformanceFailure) as info:
        expect_status(resp, 200, req="SE-MODE-003", what="download after a restart")
    assert info.value.requirement == "SE-FILE-018", "a body cut short fails the exact-bytes rule, wherever seen"
    assert [(c.requirement, c.passed) for c in book.checks] == [("SE-FILE-019", True), ("SE-FILE-018", False)]


def test_a_fault_while_preparing_blocks_naming_the_covering_rule(bad_se: str, book: ledger.Ledger) -> None:
    with SEClient(bad_se) as client:
        resp = client.post("/close")
    with pytest.raises(Blocked) as info, arrange("upload a file"):
        expect_status(resp, 201, req="SE-FILE-001", what="upload")
    assert info.value.covered_by == "SE-FILE-001"
    assert book.checks[-1].arranging


def test_a_refused_connection_stays_an_error() -> None:
    with SEClient(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(httpx.ConnectError):
        client.get("/anything")
