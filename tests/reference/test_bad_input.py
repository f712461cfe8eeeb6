"""Bad uploads: each is a clear 4xx, never a 500, and leaves nothing behind (no file, no row, no
WAL row: contract §6 says rejected requests write no WAL row)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.reference.helpers import query, stored_files, upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess


@pytest.fixture
def unchanged(db: psycopg.Connection[Any], se: SEProcess) -> Iterator[None]:
    """Assert that the test changed nothing on disk, in the files table or in the WAL."""
    files_before = stored_files(se)
    wal_before = len(wal_rows(db, se))
    count_before = query(db, f"SELECT count(*) AS n FROM {se.config.prefix}_files")[0]["n"]
    yield
    assert [p for p in stored_files(se) if p not in files_before] == []
    assert len(wal_rows(db, se)) == wal_before
    assert query(db, f"SELECT count(*) AS n FROM {se.config.prefix}_files")[0]["n"] == count_before


def raw_post(se: SEProcess, token: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(se.url + "/api/v1/files/upload", content=body,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})  # fmt: skip


def multipart(*parts: tuple[str, bytes], boundary: str = "XyZ") -> bytes:
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n".encode() + headers.encode("utf-8") + b"\r\n\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MP = "multipart/form-data; boundary=XyZ"
FILE_A = 'Content-Disposition: form-data; name="file"; filename="a"'
MALFORMED = {
    "garbage": (b"not multipart at all", MP),
    "truncated": (f"--XyZ\r\n{FILE_A}\r\n\r\nabc".encode(), MP),
    "json": (b"{}", "application/json"),
    "no-boundary": (b"", "multipart/form-data"),
    "no-file-part": (multipart(('Content-Disposition: form-data; name="description"', b"no file")), MP),
    "file-without-filename": (multipart(('Content-Disposition: form-data; name="file"', b"no name")), MP),
    "no-disposition": (multipart(("Content-Type: text/plain", b"no disposition")), MP),
    "two-files": (multipart((FILE_A, b"1"), (FILE_A.replace('"a"', '"b"'), b"2")), MP),
    "nul-in-filename": (multipart((FILE_A.replace('"a"', '"a\x00b"'), b"1")), MP),
    "non-utf8-field": (multipart((FILE_A, b"1"), ('Content-Disposition: form-data; name="description"', b"\xff")), MP),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("body", "content_type"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_multipart_is_400(se: SEProcess, tokens: Tokens, body: bytes, content_type: str) -> None:
    r = raw_post(se, tokens.user, body, content_type)
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["detail"], str)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "fields",
    [
        {"file_id": "not-a-uuid"},
        {"file_id": "12345"},
        {"custom_attributes": "{not json"},
        {"custom_attributes": "[1, 2]"},
        {"custom_attributes": '"string"'},
        {"custom_attributes": '{"a": NaN}'},
        {"custom_attributes": '{"a": "\\u0000"}'},
        {"custom_attributes": '{"a": "\\ud800"}'},
        {"custom_attributes": json.dumps({"big": "x" * 5000})},
        {"description": "y" * 5000},
        {"version": "v" * 51},
        {"description": "nul\x00inside"},
    ],
)
def test_bad_fields_are_400(se: SEProcess, tokens: Tokens, fields: dict[str, str]) -> None:
    with se.client(tokens.user) as c:
        r = upload(c, b"content", "f.txt", **fields)
    assert r.status_code == 400, r.text


@pytest.mark.usefixtures("unchanged")
def test_filename_over_500_chars_is_400(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        assert upload(c, b"x", "a" * 501 + ".txt").status_code == 400


HOSTILE = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\config",
    "/absolute/path.txt",
    "..",
    ".hidden",
    "tab\there.txt",
    "bell\x07.txt",
    'quote"and;semicolon.txt',
    "percent%0D%0Aencoded.txt",
    "日本語のファイル名.txt",
    "emoji 😀.png",
    "a" * 300 + ".txt",
    "x." + "e" * 40,
    "name with spaces .tar.gz",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_filenames_are_sanitised(se: SEProcess, tokens: Tokens, name: str) -> None:
    with se.client(tokens.user) as c:
        r = upload(c, b"hostile", name)
        assert r.status_code == 201, r.text
        meta = c.get(f"/api/v1/files/{r.json()['file_id']}").json()
        d = c.get(f"/api/v1/files/{r.json()['file_id']}/download")
    stored = meta["storage_filename"]
    assert len(stored) <= 200
    assert stored.isascii()
    assert all(ch.isalnum() or ch in "._-" for ch in stored), stored
    assert not stored.startswith(".")
    assert "/" not in stored
    assert "\\" not in stored
    path = se.config.storage / meta["storage_path"] / stored
    assert path.is_file()
    assert path.resolve().is_relative_to(se.config.storage.resolve())
    assert d.status_code == 200
    assert d.content == b"hostile"
    for value in d.headers.values():
        assert "\r" not in value
        assert "\n" not in value


def test_crlf_in_filename_never_reaches_headers(se: SEProcess, tokens: Tokens) -> None:
    # A raw CR or LF cannot travel inside a part header, but other control bytes can.
    body = multipart(("Content-Disposition: form-data; name=\"file\"; filename=\"a\x0bb\x1f\x7f.txt\"\r\n"
                      "Content-Type: text/plain", b"ctl"))  # fmt: skip
    r = raw_post(se, tokens.user, body, "multipart/form-data; boundary=XyZ")
    assert r.status_code == 201, r.text
    with se.client(tokens.user) as c:
        d = c.get(f"/api/v1/files/{r.json()['file_id']}/download")
    assert d.status_code == 200
    disposition = d.headers["content-disposition"]
    assert all(0x20 <= ord(ch) < 0x7F for ch in disposition)


def test_hostile_content_type_is_not_echoed(se: SEProcess, tokens: Tokens) -> None:
    body = multipart(("Content-Disposition: form-data; name=\"file\"; filename=\"c.txt\"\r\n"
                      "Content-Type: text/html\x0bX-Injected: 1", b"ct"))  # fmt: skip
    r = raw_post(se, tokens.user, body, "multipart/form-data; boundary=XyZ")
    assert r.status_code == 201, r.text
    with se.client(tokens.user) as c:
        d = c.get(f"/api/v1/files/{r.json()['file_id']}/download")
    assert d.headers["content-type"] == "application/octet-stream"
    assert "x-injected" not in d.headers


def test_unknown_fields_are_ignored(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        assert upload(c, b"x", "x.txt", colour="blue").status_code == 201
