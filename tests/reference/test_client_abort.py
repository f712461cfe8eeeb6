"""A client that aborts an upload mid-body is not a server error (issue 11).

Raw socket: headers and part of a multipart body with a Content-Length larger than what is sent, then
close. The SE must log it once at WARNING without a traceback, count it under status 499 in /metrics,
remove the temp file, and end the upload's WAL row ``rolled_back`` with an error_message.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import httpx
import psycopg

from tests.reference.conftest import SEFactory
from tests.reference.helpers import query
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

FILE_ID = "6a7b1f0e-2c4d-4e8f-9a0b-1c2d3e4f5a6b"
SENT_FILE_BYTES = 300_000


def abort_upload(se: SEProcess, token: str) -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file_id"\r\n\r\n' + FILE_ID.encode() + b"\r\n"
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="aborted.bin"\r\n\r\n' + b"a" * SENT_FILE_BYTES
    )
    head = (
        "POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=B\r\n"
        f"Content-Length: {len(body) + 10_000_000}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", se.config.port), timeout=10) as sock:
        sock.sendall(head + body)
        time.sleep(0.3)  # let the SE write part of the file into .incoming before we go
    # closed here, mid-body


def wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def upload_status_counts(se: SEProcess) -> dict[str, int]:
    text = httpx.get(se.url + "/metrics", timeout=10).text
    pattern = r'se_http_requests_total\{method="POST",route="/api/v1/files/upload",status="(\d+)"\} (\d+)'
    return {status: int(n) for status, n in re.findall(pattern, text)}


def test_aborted_upload_is_499_rolled_back_and_cleaned(
    db: psycopg.Connection[Any], se_factory: SEFactory, tokens: Tokens
) -> None:
    se = se_factory("abort")
    wal = f"{se.config.prefix}_wal"
    log_start = len(se.log_path.read_bytes())

    abort_upload(se, tokens.user)
    wait_for(lambda: upload_status_counts(se).get("499", 0) == 1)

    counts = upload_status_counts(se)
    assert counts == {"499": 1}, counts  # no 500 (nor 400) for an ordinary abort
    rows = query(db, f"SELECT * FROM {wal}")
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["status"] == "rolled_back"
    assert row["operation_type"] == "file_create"
    assert str(row["file_id"]) == FILE_ID
    assert row["user_id"] == "user-sub"
    assert "client closed the connection" in row["error_message"]
    assert row["completed_at"] >= row["started_at"]
    assert row["operation_data"]["file_bytes_received"] > 0
    assert row["operation_data"]["original_filename"] == "aborted.bin"
    assert list((se.config.storage / ".incoming").iterdir()) == []
    assert [p for p in se.config.storage.rglob("*") if p.is_file()] == []
    assert query(db, f"SELECT count(*) AS n FROM {se.config.prefix}_files")[0]["n"] == 0

    log = se.log_path.read_bytes()[log_start:].decode(errors="replace")
    assert "Traceback" not in log
    assert " ERROR " not in log
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, warnings
    assert "aborted by the client" in warnings[0]
    assert re.search(r"POST '/api/v1/files/upload' 499 ", log), log

    # The SE is fine afterwards, and the same file_id can still be uploaded.
    with se.client(tokens.user) as c:
        assert c.get("/health/ready").status_code == 200
        r = c.post("/api/v1/files/upload", files={"file": ("again.bin", b"x")}, data={"file_id": FILE_ID})
    assert r.status_code == 201, r.text


def test_abort_before_any_file_byte(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    head = (
        "POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tokens.user}\r\nContent-Type: multipart/form-data; boundary=B\r\n"
        "Content-Length: 5000\r\n\r\n--B\r\n"
    ).encode()
    before = upload_status_counts(se).get("499", 0)
    with socket.create_connection(("127.0.0.1", se.config.port), timeout=10) as sock:
        sock.sendall(head)
    wait_for(lambda: upload_status_counts(se).get("499", 0) == before + 1)
    assert "500" not in upload_status_counts(se)
    pending = query(db, f"SELECT count(*) AS n FROM {se.config.prefix}_wal WHERE status = 'pending'")
    assert pending[0]["n"] == 0
    assert list((se.config.storage / ".incoming").glob("*")) == []
