"""Contract §4: what each mode allows, and that the mode is reported identically everywhere.

One SE is restarted through the modes on the same prefix and storage, which also checks that
everything stored before a restart is still there after it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from tests.reference.conftest import SEFactory
from tests.reference.helpers import upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess


def reported_modes(se: SEProcess) -> list[str]:
    return [
        httpx.get(se.url + "/").json()["mode"],
        httpx.get(se.url + "/api/v1/info").json()["mode"],
        httpx.get(se.url + "/api/v1/capacity").json()["mode"],
        httpx.get(se.url + "/health/ready").json()["mode"],
    ]


@pytest.fixture(scope="module")
def moded(se_factory: SEFactory, tokens: Tokens) -> dict[str, Any]:
    se = se_factory("modes")
    with se.client(tokens.user) as c:
        fid = upload(c, b"kept across restarts", "kept.txt").json()["file_id"]
    return {"se": se, "file_id": fid}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "write", "delete", "status"),
    [("rw", 201, 400, "operational"), ("ro", 400, 400, "operational"), ("ar", 400, 400, "maintenance"),
     ("edit", 201, 204, "operational")],
)  # fmt: skip
def test_mode_matrix(
    db: psycopg.Connection[Any], moded: dict[str, Any], tokens: Tokens, mode: str, write: int, delete: int, status: str
) -> None:
    se: SEProcess = moded["se"]
    fid = moded["file_id"]
    se.restart(mode=mode)
    assert reported_modes(se) == [mode] * 4
    assert httpx.get(se.url + "/api/v1/info").json()["status"] == status
    wal_before = len(wal_rows(db, se))
    with se.client(tokens.admin) as c:
        # Reads work in every mode, and the file survived the restart.
        assert c.get(f"/api/v1/files/{fid}/download").content == b"kept across restarts"
        assert c.get("/api/v1/files").status_code == 200
        assert upload(c, b"new", "new.txt").status_code == write
        assert c.patch(f"/api/v1/files/{fid}", json={"description": mode}).status_code == (200 if write == 201 else 400)
        victim = fid if delete == 204 else str(uuid.uuid4())
        if delete == 204:
            victim = upload(c, b"victim", "v.txt").json()["file_id"]
        assert c.delete(f"/api/v1/files/{victim}").status_code == delete
    with se.client(tokens.user) as c:
        # A user gets 403 before any mode check.
        assert c.delete(f"/api/v1/files/{fid}").status_code == 403
    with se.client(tokens.service) as c:
        # GC and cache endpoints work in every mode.
        assert c.get(f"/api/v1/gc/{fid}/exists").json()["exists"] is True
        assert c.get("/api/v1/cache/consistency").status_code == 200
    rejected_only = write == 400
    if rejected_only:
        assert len(wal_rows(db, se)) == wal_before


@pytest.mark.slow
def test_gc_delete_works_in_archive_mode(se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("gcar")
    with se.client(tokens.user) as c:
        fid = upload(c, b"old", "old.txt").json()["file_id"]
    se.restart(mode="ar")
    with se.client(tokens.service) as c:
        assert c.request("DELETE", f"/api/v1/gc/{fid}", json={"reason": "retention"}).json()["status"] == "deleted"
        assert c.get(f"/api/v1/gc/{fid}/exists").json()["exists"] is False
