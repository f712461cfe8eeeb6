"""Hostile filenames and usernames: never 5xx, never header injection, never a path out of the storage.

httpx percent-encodes quotes and control characters in multipart filenames (as browsers do), so the
cases marked ``raw`` are sent as hand-made multipart bodies with the bytes exactly as listed.
"""

from __future__ import annotations

import re

import httpx
import pytest

from harness.client import SEClient
from harness.expect import expect, expect_json, expect_status
from harness.tokens import TokenFactory
from suites.support.data import payload, sha256_hex, tag
from suites.support.files import UPLOAD, created_id, download_path, file_path, unless_uploads_fail
from suites.support.http import expect_clean_headers, expect_not_5xx, quoted_filename, raw_multipart

INJECTED = "x-injected"

# case id → (how it is sent, filename). "{tag}" keeps names unique.
HOSTILE: dict[str, tuple[str, str | bytes]] = {
    "dotdot-path": ("httpx", "../../../etc/passwd-{tag}"),
    "slash-path": ("httpx", "dir/sub/file-{tag}.txt"),
    "absolute-path": ("httpx", "/etc/cron.d/evil-{tag}"),
    "backslash-path": ("httpx", "dir\\sub\\..\\..\\file-{tag}.txt"),
    "windows-drive": ("httpx", "C:\\Windows\\evil-{tag}.exe"),
    "dotdot-only": ("httpx", ".."),
    "dot-only": ("httpx", "."),
    "percent-encoded-dotdot": ("httpx", "%2e%2e%2f%2e%2e%2fescape-{tag}"),
    "quote-semicolon": ("httpx", 'quote"and;semi=colon-{tag}.txt'),
    "crlf-httpx-encoded": ("httpx", "crlf-{tag}\r\nX-Injected: 1.txt"),
    "long-300": ("httpx", "l" * 300 + "-{tag}.txt"),
    "long-600": ("httpx", "m" * 600 + "-{tag}.txt"),
    "non-ascii": ("httpx", "ĉĥŝ-{tag}-文件-пример.txt"),
    "rtl-override": ("httpx", "invoice-{tag}\u202etxt.exe"),
    "raw-control-chars": ("raw", "ctl\x01\x07\x1b\x7f-{tag}.txt"),
    "raw-tab": ("raw", "tab\there-{tag}.txt"),
    "raw-crlf-header-injection": ("raw", "crlf-{tag}\r\nX-Injected: 1.txt"),
    "raw-lf-only": ("raw", "lf-{tag}\nX-Injected: 1.txt"),
    "raw-nul": ("raw", "nul\x00byte-{tag}.txt"),
    "raw-invalid-utf8": ("raw", b"latin1-\xff\xfe-{tag}.txt"),
}


def send(api: SEClient, how: str, name: str | bytes, content: bytes) -> httpx.Response:
    if how == "httpx" and isinstance(name, str):
        return api.upload(content, filename=name, content_type="text/plain")
    param = b'filename="' + name + b'"' if isinstance(name, bytes) else quoted_filename(name)
    body, headers = raw_multipart(param, content, "text/plain")
    return api.post(UPLOAD, content=body, headers=headers)


def expect_safe_storage_names(meta: dict[str, object], resp: httpx.Response) -> None:
    for name in ("storage_path", "storage_filename"):
        value = meta.get(name)
        segments = re.split(r"[/\\]", str(value))
        expect(".." not in segments, req="SE-FILE-045", what=f"metadata {name} climbs out of the storage",
               expected="no '..' path segment", actual=value, resp=resp)  # fmt: skip


def check_served_back(api: SEClient, created: httpx.Response, content: bytes) -> None:
    """The stored file is served back: the bytes the SE said it stored (their integrity as such is
    SE-FILE-002/018's), under headers without injection, with a safe storage path."""
    file_id = created_id(created, req="SE-FILE-043")  # an object with a file_id, so .json() works
    reported = created.json().get("checksum")
    checksum = reported if isinstance(reported, str) else sha256_hex(content)
    resp = api.get(download_path(file_id))
    expect_clean_headers(resp, req="SE-FILE-044", forbidden=(INJECTED,))
    expect_status(resp, 200, req="SE-FILE-043", what="download of the stored hostile name")
    got = sha256_hex(resp.content)
    expect(got == checksum, req="SE-FILE-043", what="download body", expected=f"the stored bytes (sha256 {checksum})",
           actual=f"{len(resp.content)} bytes, sha256 {got}", resp=resp)  # fmt: skip
    meta_resp = api.get(file_path(file_id))
    expect_status(meta_resp, 200, req="SE-FILE-043", what="metadata of the stored hostile name")
    meta = expect_json(meta_resp, req="SE-FILE-043")
    expect(isinstance(meta, dict), req="SE-FILE-043", what="metadata of the stored hostile name",
           expected="a JSON object", resp=meta_resp)  # fmt: skip
    expect_safe_storage_names(meta, meta_resp)


@pytest.mark.req("SE-FILE-043", "SE-FILE-044", "SE-FILE-045")
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_filename(api: SEClient, case: str) -> None:
    how, template = HOSTILE[case]
    name = (
        template.replace(b"{tag}", tag().encode()) if isinstance(template, bytes) else template.replace("{tag}", tag())
    )
    content = payload(333)
    resp = send(api, how, name, content)
    expect_clean_headers(resp, req="SE-FILE-044", forbidden=(INJECTED,))
    unless_uploads_fail(api, resp)
    expect_not_5xx(resp, req="SE-FILE-043", what=f"upload with the filename case {case}")
    if resp.status_code == 201:
        check_served_back(api, resp, content)


HOSTILE_USERNAMES = {
    "dotdot": "../../../tmp/evil-{tag}",
    "slashes": "a/b/c-{tag}",
    "backslashes": "a\\b\\..\\..\\c-{tag}",
    "dotdot-only": "..",
    "crlf": "user-{tag}\r\nX-Injected: 1",
}


@pytest.mark.req("SE-FILE-043", "SE-FILE-044", "SE-FILE-045")
@pytest.mark.parametrize("case", list(HOSTILE_USERNAMES))
def test_hostile_token_name(api: SEClient, tokens: TokenFactory, case: str) -> None:
    """The token's name becomes part of storage_filename (contract §7): it must not steer the path."""
    client = api.with_token(tokens.mint(role="user", name=HOSTILE_USERNAMES[case].replace("{tag}", tag())))
    content = payload(222)
    resp = client.upload(content, filename=f"plain-{tag()}.txt", content_type="text/plain")
    unless_uploads_fail(api, resp)
    expect_not_5xx(resp, req="SE-FILE-043", what=f"upload by a token named like {case}")
    if resp.status_code == 201:
        check_served_back(api, resp, content)


# The file part's Content-Type header as sent (None: no Content-Type header at all, which RFC 7578 §4.4
# allows). It comes back as the download's Content-Type, so it must not carry anything into it that
# breaks a header.
PART_CONTENT_TYPES: dict[str, bytes | None] = {
    "missing": None,
    "no-slash": b"garbage",
    "control-char": b"text/plain\x01x",
    "del-in-parameter": b"text/plain; x=\x7f",
    "latin1-letter": "täxt/plain".encode(),
    "beyond-latin1": "文本/plain".encode(),
}


def _part_content_type_upload(api: SEClient, value: bytes | None, content: bytes) -> httpx.Response:
    boundary = f"seconformance{tag()}"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="ctype-{tag()}.txt"\r\n'.encode()
    if value is not None:
        head += b"Content-Type: " + value + b"\r\n"
    body = head + b"\r\n" + content + f"\r\n--{boundary}--\r\n".encode()
    return api.post(UPLOAD, content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.req("SE-FILE-001", "SE-FILE-044", "SE-FILE-018")
@pytest.mark.parametrize("case", list(PART_CONTENT_TYPES))
def test_odd_part_content_type(api: SEClient, case: str) -> None:
    """A file part without a Content-Type, or with one that is no media type (control characters, text
    beyond Latin-1): the upload is a multipart file part all the same (201, or a clear 4xx for the odd
    values; never 5xx), and a stored file downloads with clean headers and its exact bytes."""
    content = payload(321)
    resp = _part_content_type_upload(api, PART_CONTENT_TYPES[case], content)
    unless_uploads_fail(api, resp)
    if case == "missing":
        expect_status(resp, 201, req="SE-FILE-001", what="upload of a file part without Content-Type")
    else:
        expect_not_5xx(resp, req="SE-FILE-001", what=f"upload of a file part with the Content-Type case {case}")
    if not resp.is_success:
        pytest.skip(f"inconclusive: the upload was refused with {resp.status_code}; nothing stored to download")
    download = api.get(download_path(created_id(resp, req="SE-FILE-001")))
    expect_clean_headers(download, req="SE-FILE-044")
    expect_status(download, 200, req="SE-FILE-018", what=f"download of the file uploaded with {case}")
    expect(download.content == content, req="SE-FILE-018", what="download body", resp=download,
           expected=f"the {len(content)} uploaded bytes", actual=f"{len(download.content)} bytes")  # fmt: skip
