"""GC endpoints: service accounts only, idempotent delete, WAL row only for a real delete."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tests.reference.helpers import data_path, file_row, upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess


def test_gc_delete_and_again(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.user) as c:
        fid = upload(c, b"garbage", "g.txt").json()["file_id"]
        meta = c.get(f"/api/v1/files/{fid}").json()
    with se.client(tokens.service) as c:
        assert c.get(f"/api/v1/gc/{fid}/exists").json() == {"exists": True, "file_id": fid}
        first = c.request("DELETE", f"/api/v1/gc/{fid}", json={"reason": "orphaned"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "deleted"
        assert body["file_id"] == fid
        assert body["reason"] == "orphaned"
        assert body["deleted_by"] == "sa-gc"
        assert body["deleted_at"]
        again = c.delete(f"/api/v1/gc/{fid}").json()
        assert again["status"] == "already_deleted"
        assert again["deleted_at"] == body["deleted_at"]
        assert c.get(f"/api/v1/gc/{fid}/exists").json()["exists"] is False
    assert file_row(db, se, fid) is None
    assert not data_path(se, meta).exists()
    rows = wal_rows(db, se, fid)
    assert [(w["operation_type"], w["status"]) for w in rows] == [
        ("file_create", "committed"),
        ("file_delete", "committed"),
    ]
    assert rows[1]["operation_data"]["source"] == "gc"
    assert rows[1]["operation_data"]["reason"] == "orphaned"


def test_gc_unknown_id_writes_no_wal(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    unknown = uuid.uuid4()
    with se.client(tokens.service) as c:
        r = c.delete(f"/api/v1/gc/{unknown}")
    assert r.status_code == 200
    assert r.json()["status"] == "already_deleted"
    assert r.json()["deleted_at"] is None
    assert wal_rows(db, se, unknown) == []


def test_gc_needs_service_account(se: SEProcess, tokens: Tokens) -> None:
    for token in (tokens.user, tokens.operator, tokens.admin):
        with se.client(token) as c:
            assert c.delete(f"/api/v1/gc/{uuid.uuid4()}").status_code == 403
            assert c.get(f"/api/v1/gc/{uuid.uuid4()}/exists").status_code == 403


def test_gc_malformed(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.service) as c:
        assert c.delete("/api/v1/gc/nope").status_code == 422
        assert c.request("DELETE", f"/api/v1/gc/{uuid.uuid4()}", json={"reason": 5}).status_code == 422
