"""Upload, metadata, download (Range, ETag), list, PATCH, DELETE: API, database row, disk, WAL."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import psycopg
import pytest

from tests.reference.helpers import data_path, file_row, sha256, stored_files, upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

METADATA_FIELDS = {
    "file_id", "original_filename", "storage_filename", "file_size", "content_type", "created_at",
    "updated_at", "created_by_username", "created_by_fullname", "description", "version",
    "storage_path", "checksum", "custom_attributes", "cache_updated_at", "cache_ttl_hours", "cache_expired",
}  # fmt: skip


@pytest.fixture(scope="module")
def uploaded(se: SEProcess, tokens: Tokens) -> dict[str, Any]:
    content = bytes(range(256)) * 40
    with se.client(tokens.user) as c:
        r = upload(c, content, "report.bin", "application/x-test", description="d1", version="1.0",
                   custom_attributes={"project": "x", "n": 1})  # fmt: skip
        assert r.status_code == 201, r.text
        meta = c.get(f"/api/v1/files/{r.json()['file_id']}").json()
    return {"content": content, "response": r.json(), "meta": meta}


def test_upload_response_and_checksum(uploaded: dict[str, Any]) -> None:
    body = uploaded["response"]
    assert set(body) >= {"file_id", "original_filename", "file_size", "checksum", "message"}
    assert body["checksum"] == sha256(uploaded["content"])
    assert body["file_size"] == len(uploaded["content"])
    assert body["original_filename"] == "report.bin"


def test_metadata_fields(uploaded: dict[str, Any]) -> None:
    meta = uploaded["meta"]
    assert set(meta) >= METADATA_FIELDS
    assert meta["content_type"] == "application/x-test"
    assert meta["created_by_username"] == "username"
    assert meta["description"] == "d1"
    assert meta["version"] == "1.0"
    assert meta["custom_attributes"] == {"project": "x", "n": 1}
    assert meta["cache_expired"] is False
    assert meta["cache_ttl_hours"] == 24
    assert len(meta["storage_filename"]) <= 200
    assert meta["storage_filename"].startswith("report_username_")
    assert meta["storage_filename"].endswith(f"_{meta['file_id']}.bin")


def test_disk_layout_and_sidecar(se: SEProcess, uploaded: dict[str, Any]) -> None:
    meta = uploaded["meta"]
    created = datetime.fromisoformat(meta["created_at"])
    assert meta["storage_path"] == created.strftime("%Y/%m/%d/%H")
    path = data_path(se, meta)
    assert path.read_bytes() == uploaded["content"]
    sidecar = json.loads(path.with_name(path.name + ".attr.json").read_text())
    assert sidecar["schema_version"] == "2.0"
    assert sidecar["custom_attributes"] == {"project": "x", "n": 1}
    for name in ("file_id", "storage_filename", "checksum", "file_size", "storage_path", "original_filename"):
        assert sidecar[name] == meta[name]
    assert not [p for p in stored_files(se) if ".tmp" in p.name]


def test_database_row_matches_api(db: psycopg.Connection[Any], se: SEProcess, uploaded: dict[str, Any]) -> None:
    meta = uploaded["meta"]
    row = file_row(db, se, meta["file_id"])
    assert row is not None
    for name in ("file_size", "checksum", "storage_path", "storage_filename", "original_filename"):
        assert row[name] == meta[name]
    assert row["metadata_json"] == meta["custom_attributes"]
    assert row["created_by_id"] == "user-sub"
    assert row["search_vector"] is not None


def test_wal_row_of_upload(db: psycopg.Connection[Any], se: SEProcess, uploaded: dict[str, Any]) -> None:
    meta = uploaded["meta"]
    rows = wal_rows(db, se, meta["file_id"])
    assert len(rows) == 1
    wal = rows[0]
    assert wal["operation_type"] == "file_create"
    assert wal["status"] == "committed"
    assert wal["user_id"] == "user-sub"
    assert wal["error_message"] is None
    assert wal["completed_at"] >= wal["started_at"]
    data = wal["operation_data"]
    assert data["storage_filename"] == meta["storage_filename"]
    assert data["storage_path"] == meta["storage_path"]
    assert data["relative_path"] == f"{meta['storage_path']}/{meta['storage_filename']}"
    assert data["content_type"] == meta["content_type"]
    assert data["original_filename"] == meta["original_filename"]
    assert data["result"] == {k: uploaded["response"][k] for k in ("file_id", "checksum", "file_size")}


def test_download_exact_bytes(se: SEProcess, tokens: Tokens, uploaded: dict[str, Any]) -> None:
    fid = uploaded["meta"]["file_id"]
    with se.client(tokens.user) as c:
        r = c.get(f"/api/v1/files/{fid}/download")
    assert r.status_code == 200
    assert r.content == uploaded["content"]
    assert r.headers["content-length"] == str(len(uploaded["content"]))
    assert r.headers["content-type"] == "application/x-test"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == f'"{uploaded["response"]["checksum"]}"'
    assert r.headers["content-disposition"].startswith("attachment;")
    assert 'filename="report.bin"' in r.headers["content-disposition"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-0", 0, 0), ("bytes=10-19", 10, 19), ("bytes=10000-", 10000, 10239), ("bytes=-5", 10235, 10239),
     ("bytes=10230-99999", 10230, 10239)],
)  # fmt: skip
def test_range(se: SEProcess, tokens: Tokens, uploaded: dict[str, Any], header: str, start: int, end: int) -> None:
    fid = uploaded["meta"]["file_id"]
    with se.client(tokens.user) as c:
        r = c.get(f"/api/v1/files/{fid}/download", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == uploaded["content"][start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(uploaded['content'])}"


def test_range_unsatisfiable_and_ignored(se: SEProcess, tokens: Tokens, uploaded: dict[str, Any]) -> None:
    fid = uploaded["meta"]["file_id"]
    size = len(uploaded["content"])
    with se.client(tokens.user) as c:
        r = c.get(f"/api/v1/files/{fid}/download", headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416
        assert r.headers["content-range"] == f"bytes */{size}"
        # Multi-range and malformed ranges are ignored: the whole file (RFC 9110 allows it).
        for header in ("bytes=0-1,5-6", "pages=1-2", "bytes=x-y"):
            r = c.get(f"/api/v1/files/{fid}/download", headers={"Range": header})
            assert r.status_code == 200
            assert len(r.content) == size


def test_etag_if_none_match(se: SEProcess, tokens: Tokens, uploaded: dict[str, Any]) -> None:
    fid = uploaded["meta"]["file_id"]
    etag = f'"{uploaded["response"]["checksum"]}"'
    with se.client(tokens.user) as c:
        r = c.get(f"/api/v1/files/{fid}/download", headers={"If-None-Match": etag})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == etag
        r = c.get(f"/api/v1/files/{fid}/download", headers={"If-None-Match": '"other"'})
        assert r.status_code == 200


def test_empty_file_is_stored(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        r = upload(c, b"", "empty.txt")
        assert r.status_code == 201, r.text
        assert r.json()["file_size"] == 0
        assert r.json()["checksum"] == sha256(b"")
        d = c.get(f"/api/v1/files/{r.json()['file_id']}/download")
        assert d.status_code == 200
        assert d.content == b""
        assert d.headers["content-length"] == "0"
        assert c.get(f"/api/v1/files/{r.json()['file_id']}/download", headers={"Range": "bytes=0-"}).status_code == 416


def test_non_ascii_filename(se: SEProcess, tokens: Tokens) -> None:
    name = "Отчёт 2024 — финал.pdf"
    with se.client(tokens.user) as c:
        r = upload(c, b"%PDF", name, "application/pdf")
        assert r.status_code == 201, r.text
        assert r.json()["original_filename"] == name
        meta = c.get(f"/api/v1/files/{r.json()['file_id']}").json()
        assert meta["storage_filename"].isascii()
        d = c.get(f"/api/v1/files/{r.json()['file_id']}/download")
    disposition = d.headers["content-disposition"]
    assert disposition.isascii()
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == name


def test_caller_chosen_file_id_and_conflict(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    fid = str(uuid.uuid4())
    with se.client(tokens.user) as c:
        r = upload(c, b"first", "a.txt", file_id=fid)
        assert r.status_code == 201
        assert r.json()["file_id"] == fid
        before = stored_files(se)
        r = upload(c, b"second", "b.txt", file_id=fid)
        assert r.status_code == 409
        assert c.get(f"/api/v1/files/{fid}/download").content == b"first"
    assert stored_files(se) == before
    assert [w["status"] for w in wal_rows(db, se, fid)] == ["committed"]


def test_unknown_and_malformed_ids(se: SEProcess, tokens: Tokens) -> None:
    unknown = uuid.uuid4()
    with se.client(tokens.admin) as c:
        for method, path in (("GET", ""), ("GET", "/download"), ("PATCH", ""), ("DELETE", "")):
            kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
            assert c.request(method, f"/api/v1/files/{unknown}{path}", **kwargs).status_code == 404
            assert c.request(method, f"/api/v1/files/not-a-uuid{path}", **kwargs).status_code == 422


def test_list_newest_first_and_limit(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        ids = [upload(c, f"n{i}".encode(), f"n{i}.txt").json()["file_id"] for i in range(3)]
        page = c.get("/api/v1/files", params={"limit": 3}).json()
        assert [f["file_id"] for f in page["files"]] == ids[::-1]
        assert page["total"] >= 3
        second = c.get("/api/v1/files", params={"skip": 1, "limit": 1}).json()
        assert [f["file_id"] for f in second["files"]] == [ids[1]]
        assert c.get("/api/v1/files", params={"limit": 101}).status_code == 422
        assert c.get("/api/v1/files", params={"limit": 0}).status_code == 422
        assert c.get("/api/v1/files", params={"skip": -1}).status_code == 422


def test_patch(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        fid = upload(c, b"p", "p.txt", description="old", version="1", custom_attributes={"a": 1}).json()["file_id"]
        before = c.get(f"/api/v1/files/{fid}").json()
        r = c.patch(f"/api/v1/files/{fid}", json={"version": "2"})
        assert r.status_code == 200, r.text
        after = r.json()
        assert after["version"] == "2"
        assert after["description"] == "old"  # not sent → unchanged
        assert after["custom_attributes"] == {"a": 1}
        assert after["updated_at"] > before["updated_at"]
        assert after["created_at"] == before["created_at"]
        after2 = c.patch(f"/api/v1/files/{fid}", json={"custom_attributes": {"b": 2}, "metadata": {"c": 3}}).json()
        assert after2["custom_attributes"] == {"b": 2, "c": 3}
        assert c.patch(f"/api/v1/files/{fid}", json={"description": None}).json()["description"] is None
        assert c.patch(f"/api/v1/files/{fid}", json={"unknown": 1}).status_code == 422
        assert c.patch(f"/api/v1/files/{fid}", json={"version": "x" * 51}).status_code == 422
        assert c.patch(f"/api/v1/files/{fid}", json={"description": "a\x00b"}).status_code == 422
        assert c.patch(f"/api/v1/files/{fid}", json={"description": "x" * 5000}).status_code == 400
        final = c.get(f"/api/v1/files/{fid}").json()
    sidecar_path = data_path(se, final)
    sidecar = json.loads(sidecar_path.with_name(sidecar_path.name + ".attr.json").read_text())
    assert sidecar["custom_attributes"] == {"b": 2, "c": 3}
    assert sidecar["description"] is None
    statuses = [(w["operation_type"], w["status"]) for w in wal_rows(db, se, fid)]
    assert statuses == [("file_create", "committed")] + [("file_update", "committed")] * 3
    update_row = wal_rows(db, se, fid)[1]
    assert update_row["operation_data"]["changes"] == {"version": {"old": "1", "new": "2"}}


def test_delete(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        fid = upload(c, b"bye", "bye.txt").json()["file_id"]
        meta = c.get(f"/api/v1/files/{fid}").json()
        assert c.delete(f"/api/v1/files/{fid}").status_code == 403  # a user may not delete
    path = data_path(se, meta)
    with se.client(tokens.operator) as c:
        assert c.delete(f"/api/v1/files/{fid}").status_code == 204
        assert c.get(f"/api/v1/files/{fid}").status_code == 404
        assert c.get(f"/api/v1/files/{fid}/download").status_code == 404
        assert c.delete(f"/api/v1/files/{fid}").status_code == 404
    assert not path.exists()
    assert not path.with_name(path.name + ".attr.json").exists()
    assert file_row(db, se, fid) is None
    rows = wal_rows(db, se, fid)
    assert [(w["operation_type"], w["status"]) for w in rows] == [
        ("file_create", "committed"),
        ("file_delete", "committed"),
    ]
    assert rows[1]["user_id"] == "operator-sub"


def test_reads_write_no_wal(
    db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens, uploaded: dict[str, Any]
) -> None:
    before = len(wal_rows(db, se))
    fid = uploaded["meta"]["file_id"]
    with se.client(tokens.user) as c:
        c.get(f"/api/v1/files/{fid}")
        c.get(f"/api/v1/files/{fid}/download")
        c.get("/api/v1/files")
        c.delete(f"/api/v1/files/{fid}")  # 403: rejected, no row
    assert len(wal_rows(db, se)) == before
    assert not [w for w in wal_rows(db, se) if w["status"] == "pending"]


def test_info_counts(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        info = c.get("/api/v1/info").json()
        listed = c.get("/api/v1/files", params={"limit": 100}).json()
        cap = c.get("/api/v1/capacity").json()
    assert info["file_count"] == listed["total"]
    assert info["used_bytes"] == sum(f["file_size"] for f in listed["files"])
    assert cap["capacity"]["used"] == info["used_bytes"]
    assert cap["capacity"]["total"] == info["capacity_bytes"] == se.config.capacity
    assert cap["capacity"]["available"] == se.config.capacity - info["used_bytes"]
