"""GET /api/v1/files/{file_id} (contract §2)."""

from __future__ import annotations

import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal
from suites.support import fields
from suites.support.data import parse_ts, payload
from suites.support.files import get_meta, upload_ok


@pytest.mark.req("SE-FILE-015")
def test_metadata_fields(api: SEClient) -> None:
    stored = upload_ok(api, description="d", version="1", custom_attributes={"k": "v"})
    meta = get_meta(api, stored.file_id, req="SE-FILE-015")
    fields.expect_fields(meta, fields.METADATA, req="SE-FILE-015", what="metadata")
    expect(isinstance(meta["custom_attributes"], dict), req="SE-FILE-015", what="metadata custom_attributes",
           expected="an object", actual=meta["custom_attributes"])  # fmt: skip
    expect(fields.is_int(meta["cache_ttl_hours"]), req="SE-FILE-015", what="metadata cache_ttl_hours",
           expected="an integer", actual=meta["cache_ttl_hours"])  # fmt: skip
    expect(isinstance(meta["cache_expired"], bool), req="SE-FILE-015", what="metadata cache_expired",
           expected="a boolean", actual=meta["cache_expired"])  # fmt: skip


@pytest.mark.req("SE-FILE-016")
def test_metadata_agrees_with_upload(api: SEClient) -> None:
    stored = upload_ok(api, payload(777))
    meta = get_meta(api, stored.file_id, req="SE-FILE-016")
    for name in ("file_id", "original_filename", "file_size", "checksum"):
        # A field missing from both the response and the metadata must not pass as None == None.
        value = stored.response.get(name)
        expect(value is not None, req="SE-FILE-016", what=f"upload response {name}",
               expected="a value to compare the metadata with", actual=stored.response)  # fmt: skip
        expect_equal(meta.get(name), value, req="SE-FILE-016", what=f"metadata {name}")


@pytest.mark.req("SE-FILE-017")
def test_timestamps_are_iso_8601(api: SEClient) -> None:
    meta = get_meta(api, upload_ok(api).file_id, req="SE-FILE-017")
    parsed = {name: parse_ts(meta.get(name)) for name in ("created_at", "updated_at", "cache_updated_at")}
    for name, value in parsed.items():
        expect(value is not None, req="SE-FILE-017", what=f"metadata {name}", expected="an ISO 8601 date-time",
               actual=meta.get(name))  # fmt: skip
    created, updated = parsed["created_at"], parsed["updated_at"]
    assert created is not None
    assert updated is not None
    expect(created <= updated, req="SE-FILE-017", what="created_at ≤ updated_at", expected="created_at first",
           actual={"created_at": meta.get("created_at"), "updated_at": meta.get("updated_at")})  # fmt: skip
