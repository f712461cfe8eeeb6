"""GET /api/v1/files/{file_id}/download: bytes, headers, ranges and ETag (contract §2)."""

from __future__ import annotations

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_equal, expect_status
from suites.support.data import payload, sha256_hex, tag
from suites.support.files import Stored, download_path, upload_ok
from suites.support.http import media_type, parse_disposition


@pytest.mark.req("SE-FILE-018")
@pytest.mark.parametrize("case", ["one-byte", "every-byte-value", "random-300k"])
def test_download_returns_exact_bytes(api: SEClient, case: str) -> None:
    content = {"one-byte": b"\x00", "every-byte-value": bytes(range(256)) * 16, "random-300k": payload(300_001)}[case]
    stored = upload_ok(api, content)
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-018", what="download")
    expect(resp.content == content, req="SE-FILE-018", what="download body", resp=resp,
           expected=f"the {len(content)} uploaded bytes", actual=f"{len(resp.content)} bytes that differ")  # fmt: skip


@pytest.mark.req("SE-FILE-019")
def test_download_content_length(api: SEClient) -> None:
    stored = upload_ok(api, payload(12_345))
    resp = api.get(download_path(stored.file_id))
    # The header first, and from the headers alone: a body cut short is SE-FILE-018's, not this rule's.
    expect_equal(resp.headers.get("content-length"), "12345", req="SE-FILE-019", what="download Content-Length")
    expect_status(resp, 200, req="SE-FILE-019", what="download")


@pytest.mark.req("SE-FILE-020")
@pytest.mark.parametrize("content_type", ["application/pdf", "image/png", "text/plain", "text/csv; charset=utf-8",
                                          "application/x-conformance-test"])  # fmt: skip
def test_download_content_type_is_the_uploads(api: SEClient, content_type: str) -> None:
    stored = upload_ok(api, content_type=content_type)
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-020", what="download")
    got = resp.headers.get("content-type", "")
    expect_equal(media_type(got), media_type(content_type), req="SE-FILE-020", what="download media type",
                 resp=resp)  # fmt: skip
    if ";" in content_type:
        sent_params = {p.strip().lower().replace('"', "") for p in content_type.split(";")[1:]}
        got_params = {p.strip().lower().replace('"', "") for p in got.split(";")[1:]}
        expect(sent_params <= got_params, req="SE-FILE-020", what="download Content-Type parameters",
               expected=f"the parameters sent: {content_type}", actual=got, resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-021")
def test_content_disposition_attachment_with_name(api: SEClient) -> None:
    name = f"report-{tag()}.pdf"
    stored = upload_ok(api, filename=name, content_type="application/pdf")
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-021", what="download")
    header = resp.headers.get("content-disposition")
    expect(header is not None, req="SE-FILE-021", what="Content-Disposition", expected="present", resp=resp)
    disposition = parse_disposition(header or "")
    expect_equal(disposition.type, "attachment", req="SE-FILE-021", what="Content-Disposition type", resp=resp)
    expect_equal(disposition.filename, name, req="SE-FILE-021", what="Content-Disposition filename", resp=resp)


@pytest.mark.req("SE-FILE-022")
@pytest.mark.parametrize("stem", ["Größenübersicht", "отчёт", "報告書", "emoji-🎉", "café crème"])
def test_non_ascii_name_through_filename_star(api: SEClient, stem: str) -> None:
    name = f"{stem}-{tag()}.txt"
    stored = upload_ok(api, filename=name, content_type="text/plain")
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-022", what="download")
    disposition = parse_disposition(resp.headers.get("content-disposition", ""))
    expect(disposition.ext_error is None, req="SE-FILE-022", what="Content-Disposition filename* is RFC 8187",
           expected="charset'lang'percent-encoded", actual=disposition.ext_error, resp=resp)  # fmt: skip
    expect_equal(disposition.params.get("filename*"), name, req="SE-FILE-022",
                 what="Content-Disposition filename* (decoded)", resp=resp)  # fmt: skip


# -- optional: range --------------------------------------------------------------------------------


@pytest.mark.req("SE-FILE-023")
@pytest.mark.capability("range")
def test_accept_ranges_bytes(api: SEClient) -> None:
    stored = upload_ok(api, payload(1000))
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-023", what="download")
    expect_equal(resp.headers.get("accept-ranges"), "bytes", req="SE-FILE-023", what="Accept-Ranges", resp=resp)


RANGES = ("bytes=0-0", "bytes=10-99", "bytes=900-", "bytes=-100", "bytes=990-5000")  # of a 1000-byte upload


def span(spec: str, size: int) -> tuple[int, int]:
    """(first, last) byte that a single-range ``spec`` selects of a file of ``size`` bytes."""
    first, _, last = spec.removeprefix("bytes=").partition("-")
    if not first:
        return size - int(last), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1


def stored_bytes(api: SEClient, stored: Stored) -> bytes:
    """The file as the SE serves it whole (a preparation: the whole download is SE-FILE-018's). Ranges
    are judged against the SE's own file, so a defect in what it stored is judged once, elsewhere."""
    resp = api.get(download_path(stored.file_id))
    with arrange("download the whole file"):
        expect_status(resp, 200, req="SE-FILE-018", what="download")
    return resp.content


@pytest.mark.req("SE-FILE-024")
@pytest.mark.capability("range")
@pytest.mark.parametrize("spec", RANGES)
def test_single_range_is_206(api: SEClient, spec: str) -> None:
    stored = upload_ok(api, payload(1000))
    content = stored_bytes(api, stored)
    resp = api.get(download_path(stored.file_id), headers={"Range": spec})
    expect_status(resp, 206, req="SE-FILE-024", what=f"download with Range: {spec}")
    first, last = span(spec, len(content))
    expect_equal(resp.headers.get("content-range"), f"bytes {first}-{last}/{len(content)}", req="SE-FILE-024",
                 what="Content-Range", resp=resp)  # fmt: skip
    expect(resp.content == content[first : last + 1], req="SE-FILE-024", what="the range's bytes",
           expected=f"bytes {first}..{last} of the upload", actual=f"{len(resp.content)} other bytes",
           resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-025")
@pytest.mark.capability("range")
@pytest.mark.parametrize("start", ["size", "size+4000", "suffix-0"])
def test_unsatisfiable_range_is_416(api: SEClient, start: str) -> None:
    """``bytes=-0`` selects the last 0 bytes: it starts at the size, and a suffix range of length 0 is
    unsatisfiable (RFC 9110 §14.1.1: a suffix-range is satisfiable only with a non-zero suffix-length)."""
    stored = upload_ok(api, payload(1000))
    size = stored.as_reported()[1]  # the file the SE says it holds
    first = size if start == "size" else size + 4000
    specs = {"size": f"bytes={first}-", "size+4000": f"bytes={first}-{first + 1000}", "suffix-0": "bytes=-0"}
    spec = specs[start]
    resp = api.get(download_path(stored.file_id), headers={"Range": spec})
    expect_status(resp, 416, req="SE-FILE-025", what=f"download with Range: {spec} (file of 1000 bytes)")


# -- optional: etag ---------------------------------------------------------------------------------


@pytest.mark.req("SE-FILE-026")
@pytest.mark.capability("etag")
def test_etag_is_quoted_sha256(api: SEClient) -> None:
    stored = upload_ok(api)
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-026", what="download")
    expect_equal(resp.headers.get("etag"), f'"{stored.response.get("checksum")}"', req="SE-FILE-026",
                 what="ETag", resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-027")
@pytest.mark.capability("etag")
def test_if_none_match(api: SEClient) -> None:
    stored = upload_ok(api)
    etag = f'"{stored.response.get("checksum")}"'
    resp = api.get(download_path(stored.file_id), headers={"If-None-Match": etag})
    expect_status(resp, 304, req="SE-FILE-027", what="download with If-None-Match: <its ETag>")
    expect_equal(resp.content, b"", req="SE-FILE-027", what="304 body", resp=resp)
    other = api.get(download_path(stored.file_id), headers={"If-None-Match": f'"{"0" * 64}"'})
    expect_status(other, 200, req="SE-FILE-027", what="download with If-None-Match: <another ETag>")
    expect(sha256_hex(other.content) == stored.as_reported()[0], req="SE-FILE-027",
           what="the bytes after a non-matching ETag", expected="the stored bytes", resp=other)  # fmt: skip
