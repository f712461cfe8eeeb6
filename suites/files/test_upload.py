"""POST /api/v1/files/upload (contract §2)."""

from __future__ import annotations

import uuid

import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal, expect_json, expect_status
from suites.support import fields
from suites.support.data import EMPTY_SHA256, new_uuid, payload, sha256_hex, tag, unique_name
from suites.support.files import UPLOAD, download_path, expect_present, get_meta, total, unless_uploads_fail, upload_ok
from suites.support.http import expect_not_5xx


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@pytest.mark.req("SE-FILE-001")
def test_upload_answers_201_with_summary(api: SEClient) -> None:
    resp = api.upload(payload(2048), filename=unique_name())
    expect_status(resp, 201, req="SE-FILE-001", what="upload")
    body = fields.expect_fields(expect_json(resp, req="SE-FILE-001"), fields.UPLOAD, req="SE-FILE-001",
                                what="upload response", resp=resp)  # fmt: skip
    expect(is_uuid(body["file_id"]), req="SE-FILE-001", what="upload file_id", expected="a UUID",
           actual=body["file_id"], resp=resp)  # fmt: skip
    expect(isinstance(body["message"], str), req="SE-FILE-001", what="upload message", expected="a string",
           actual=body["message"], resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-002")
def test_checksum_is_lowercase_sha256(api: SEClient) -> None:
    stored = upload_ok(api, payload(100_003), req="SE-FILE-002")
    digest = sha256_hex(stored.content)
    expect_equal(stored.response.get("checksum"), digest, req="SE-FILE-002", what="upload checksum")
    meta = get_meta(api, stored.file_id)
    expect_equal(meta.get("checksum"), digest, req="SE-FILE-002", what="metadata checksum")


@pytest.mark.req("SE-FILE-003")
@pytest.mark.parametrize("size", [1, 65_537, 1_000_003])
def test_file_size_is_byte_count(api: SEClient, size: int) -> None:
    stored = upload_ok(api, payload(size), req="SE-FILE-003")
    expect_equal(stored.response.get("file_size"), size, req="SE-FILE-003", what="upload file_size")
    expect_equal(get_meta(api, stored.file_id).get("file_size"), size, req="SE-FILE-003",
                 what="metadata file_size")  # fmt: skip


FILENAMES = {
    "ascii": "plain-{tag}.txt",
    "spaces-parens": "quarterly report {tag} (final) v2.pdf",
    "non-ascii": "Ünïcödé-{tag}-文件-ファイル.txt",
    "emoji": "palette-{tag}-🎨.png",
    "no-extension": "README-{tag}",
    "many-dots": "archive.{tag}.tar.gz",
}


@pytest.mark.req("SE-FILE-004")
@pytest.mark.parametrize("case", list(FILENAMES))
def test_original_filename_kept(api: SEClient, case: str) -> None:
    name = FILENAMES[case].format(tag=tag())
    stored = upload_ok(api, req="SE-FILE-004", filename=name)
    expect_equal(stored.response.get("original_filename"), name, req="SE-FILE-004",
                 what="upload original_filename")  # fmt: skip
    expect_equal(get_meta(api, stored.file_id).get("original_filename"), name,
                 req="SE-FILE-004", what="metadata original_filename")  # fmt: skip


CONTENT_TYPES = ("text/plain", "application/pdf", "image/png", "application/x-conformance-test",
                 "text/csv; charset=utf-8")  # fmt: skip


@pytest.mark.req("SE-FILE-005")
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_content_type_kept(api: SEClient, content_type: str) -> None:
    stored = upload_ok(api, req="SE-FILE-005", content_type=content_type)
    expect_equal(get_meta(api, stored.file_id).get("content_type"), content_type,
                 req="SE-FILE-005", what="metadata content_type")  # fmt: skip


@pytest.mark.req("SE-FILE-006")
def test_description_and_version_kept(api: SEClient) -> None:
    description = f"Beschreibung ✓ {tag()}\nsecond line"
    stored = upload_ok(api, req="SE-FILE-006", description=description, version="2.1.0-rc1")
    meta = get_meta(api, stored.file_id)
    expect_equal(meta.get("description"), description, req="SE-FILE-006", what="metadata description")
    expect_equal(meta.get("version"), "2.1.0-rc1", req="SE-FILE-006", what="metadata version")
    bare = get_meta(api, upload_ok(api, req="SE-FILE-006").file_id)
    for name in ("description", "version"):
        expect(bare.get(name) in (None, ""), req="SE-FILE-006", what=f"{name} of an upload without it",
               expected="null (or empty)", actual=bare.get(name))  # fmt: skip


@pytest.mark.req("SE-FILE-007")
def test_caller_chosen_file_id(api: SEClient) -> None:
    chosen = new_uuid()
    stored = upload_ok(api, req="SE-FILE-007", file_id=chosen)
    expect_equal(stored.file_id, chosen, req="SE-FILE-007", what="upload file_id")
    expect_equal(get_meta(api, chosen).get("file_id"), chosen, req="SE-FILE-007",
                 what="metadata file_id")  # fmt: skip


@pytest.mark.req("SE-FILE-008")
@pytest.mark.parametrize("file_id", ["not-a-uuid", "12345", "../../etc/passwd", "0000-zzzz"])
def test_non_uuid_file_id_is_400(api: SEClient, file_id: str) -> None:
    before = total(api, req="SE-FILE-008")
    resp = api.upload(payload(100), filename=unique_name(), file_id=file_id)
    unless_uploads_fail(api, resp)
    expect_status(resp, 400, req="SE-FILE-008", what=f"upload with file_id {file_id!r}")
    expect_equal(total(api, req="SE-FILE-008"), before, req="SE-FILE-008", what="list total after the refusal")


@pytest.mark.req("SE-FILE-009")
def test_duplicate_file_id_is_409_and_changes_nothing(api: SEClient) -> None:
    first = upload_ok(api, payload(3000), req="SE-FILE-009", filename=unique_name("first"),
                      description="the first", version="1", custom_attributes={"which": "first"})  # fmt: skip
    meta_before = get_meta(api, first.file_id)
    before = total(api, req="SE-FILE-009")
    resp = api.upload(payload(5000), filename=unique_name("second"), content_type="text/plain",
                      description="the second", version="2", file_id=first.file_id,
                      custom_attributes={"which": "second"})  # fmt: skip
    expect_status(resp, 409, req="SE-FILE-009", what="upload with the file_id of a stored file")
    meta_after = expect_present(api, first, req="SE-FILE-009", what="the first file after the refused duplicate")
    expect_equal(meta_after, meta_before, req="SE-FILE-009", what="metadata after the refused duplicate")
    expect_equal(total(api, req="SE-FILE-009"), before, req="SE-FILE-009", what="list total after the refusal")


CUSTOM = {
    "project": "apollo",
    "count": 3,
    "ratio": 0.25,
    "flag": True,
    "nothing": None,
    "tags": ["a", "b", 3],
    "nested": {"deep": {"deeper": [1, {"x": "y"}]}},
    "unicode": "Grüße 🌍",
}


@pytest.mark.req("SE-FILE-010")
def test_custom_attributes_round_trip(api: SEClient) -> None:
    attributes = {**CUSTOM, "id": tag()}
    stored = upload_ok(api, req="SE-FILE-010", custom_attributes=attributes)
    meta = get_meta(api, stored.file_id)
    expect_equal(meta.get("custom_attributes"), attributes, req="SE-FILE-010", what="metadata custom_attributes")
    bare = get_meta(api, upload_ok(api, req="SE-FILE-010").file_id)
    expect_equal(bare.get("custom_attributes"), {}, req="SE-FILE-010",
                 what="custom_attributes of an upload without them")  # fmt: skip


@pytest.mark.req("SE-FILE-011")
@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"', "42", "{broken"])
def test_custom_attributes_not_an_object_is_refused(api: SEClient, raw: str) -> None:
    before = total(api, req="SE-FILE-011")
    resp = api.upload(payload(100), filename=unique_name(), custom_attributes=raw)
    unless_uploads_fail(api, resp)
    expect_status(resp, (400, 422), req="SE-FILE-011", what=f"upload with custom_attributes {raw!r}")
    expect_equal(total(api, req="SE-FILE-011"), before, req="SE-FILE-011", what="list total after the refusal")


@pytest.mark.req("SE-FILE-012")
def test_upload_without_file_part_is_refused(api: SEClient) -> None:
    resp = api.post(UPLOAD, data={"description": "no file"}, files={"other": ("x.bin", b"x", "text/plain")})
    unless_uploads_fail(api, resp)
    expect_status(resp, (400, 422), req="SE-FILE-012", what="upload without a file part")


@pytest.mark.req("SE-FILE-014")
def test_empty_file_is_stored(api: SEClient) -> None:
    stored = upload_ok(api, b"", req="SE-FILE-014", filename=unique_name("empty", ".txt"))
    expect_equal(stored.response.get("file_size"), 0, req="SE-FILE-014", what="upload file_size")
    expect_equal(stored.response.get("checksum"), EMPTY_SHA256, req="SE-FILE-014", what="upload checksum")
    resp = api.get(download_path(stored.file_id))
    expect_status(resp, 200, req="SE-FILE-014", what="download of the empty file")
    expect_equal(resp.content, b"", req="SE-FILE-014", what="download body", resp=resp)


INVALID_FIELDS = {
    "version-51-chars": {"version": "v" * 51},
    "version-300-chars": {"version": "9" * 300},
    "description-20k": {"description": "d" * 20_000},
    "unknown-field": {"colour": "blue"},
    "empty-file-id": {"file_id": ""},
    # JSON escapes for text PostgreSQL's jsonb and UTF-8 cannot hold: an SE that passes them through
    # unchecked fails deep inside the write (500) instead of refusing the input.
    "attribute-value-nul": {"custom_attributes": '{"note": "a\\u0000b"}'},
    "attribute-key-nul": {"custom_attributes": '{"no\\u0000te": "x"}'},
    "attribute-value-lone-surrogate": {"custom_attributes": '{"note": "\\ud800"}'},
    "nested-attribute-value-nul": {"custom_attributes": '{"outer": {"list": ["ok", "a\\u0000b"]}}'},
}


@pytest.mark.req("SE-FILE-046")
@pytest.mark.parametrize("case", list(INVALID_FIELDS))
def test_invalid_input_never_5xx(api: SEClient, case: str) -> None:
    before = total(api, req="SE-FILE-046")
    resp = api.upload(payload(100), filename=unique_name(), **INVALID_FIELDS[case])
    unless_uploads_fail(api, resp)
    expect_not_5xx(resp, req="SE-FILE-046", what=f"upload with {case}")
    if not 200 <= resp.status_code < 300:  # refused: nothing stored
        expect_equal(total(api, req="SE-FILE-046"), before, req="SE-FILE-046", what="list total after the refusal")
