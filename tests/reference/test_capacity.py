"""STORAGE_MAX_SIZE: an upload that would pass it gets 507 and leaves nothing behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.reference.conftest import SEFactory
from tests.reference.helpers import stored_files, upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

CAPACITY = 256 * 1024


@pytest.fixture(scope="module")
def small(se_factory: SEFactory) -> SEProcess:
    return se_factory("cap", capacity=CAPACITY)


def test_capacity_is_enforced(db: psycopg.Connection[Any], small: SEProcess, tokens: Tokens) -> None:
    with small.client(tokens.user) as c:
        assert upload(c, b"a" * (CAPACITY - 1000), "big.bin").status_code == 201
        files_before, wal_before = stored_files(small), len(wal_rows(db, small))
        r = upload(c, b"b" * 2000, "over.bin")
        assert r.status_code == 507, r.text
        assert stored_files(small) == files_before
        assert len(wal_rows(db, small)) == wal_before
        # exactly the remaining bytes still fit
        assert upload(c, b"c" * 1000, "fits.bin").status_code == 201
        assert upload(c, b"", "empty.bin").status_code == 201
        assert upload(c, b"d", "one.bin").status_code == 507
        cap = c.get("/api/v1/capacity").json()
    assert cap["capacity"]["available"] == 0
    assert cap["capacity"]["percent_used"] == 100.0
    assert cap["health"] == "full"


def test_content_length_checked_up_front(se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("capcl", capacity=CAPACITY)
    # A declared body far beyond capacity is refused before any of it is read: here the client
    # sends only the headers (as an Expect: 100-continue client would) and still gets its answer.
    request = (
        "POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tokens.user}\r\nContent-Type: multipart/form-data; boundary=B\r\n"
        f"Content-Length: {10 * CAPACITY}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", se.config.port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 507"), status_line


def test_streaming_body_without_length(se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("capst", capacity=CAPACITY)

    def body() -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n'
        for _ in range(8):
            yield b"z" * (64 * 1024)
        yield b"\r\n--B--\r\n"

    r = httpx.post(se.url + "/api/v1/files/upload", content=body(),
                   headers={"Authorization": f"Bearer {tokens.user}",
                            "Content-Type": "multipart/form-data; boundary=B"})  # fmt: skip
    assert r.status_code == 507
    assert [p for p in stored_files(se) if p.is_file()] == []
