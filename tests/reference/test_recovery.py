"""Start-up recovery of WAL rows left ``pending`` by a crash (contract §6, M for the reference).

The crash states are built by hand while the SE is stopped — exactly what each operation leaves
behind when the process dies between its steps — then the SE is started again.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.reference.conftest import SEFactory
from tests.reference.helpers import data_path, file_row, upload, wal_rows
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess


def pending(db: psycopg.Connection[Any], se: SEProcess, op: str, file_id: str, data: dict[str, Any]) -> str:
    tx = str(uuid.uuid4())
    db.execute(
        f"INSERT INTO {se.config.prefix}_wal (transaction_id, operation_type, status, file_id, operation_data,"
        " started_at, user_id) VALUES (%s, %s, 'pending', %s, %s, %s, 'crashed-user')",
        (tx, op, file_id, Jsonb(data), datetime.now(UTC) - timedelta(minutes=1)),
    )
    return tx


def relative_data(meta: dict[str, Any]) -> dict[str, str]:
    """The path part of a WAL operation_data, as the service writes it."""
    return {
        "storage_filename": meta["storage_filename"],
        "storage_path": meta["storage_path"],
        "relative_path": f"{meta['storage_path']}/{meta['storage_filename']}",
    }


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + ".attr.json")


@pytest.mark.slow
def test_stale_pending_rows_are_resolved(db: psycopg.Connection[Any], se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("recover")
    with se.client(tokens.admin) as c:
        metas = {}
        for name in ("committed", "updated", "del_undo", "del_finish"):
            fid = upload(c, name.encode(), f"{name}.txt", description=name).json()["file_id"]
            metas[name] = c.get(f"/api/v1/files/{fid}").json()
    se.stop()
    base = se.config.storage

    # 1. An upload that died after placing data and sidecar, before its database commit.
    ghost_id = str(uuid.uuid4())
    ghost_rel = f"2030/01/01/00/ghost_x_20300101T000000_{ghost_id}.bin"
    ghost = base / ghost_rel
    ghost.parent.mkdir(parents=True)
    ghost.write_bytes(b"half")
    sidecar_of(ghost).write_text("{}")
    sidecar_leftover = ghost.with_name(ghost.name + ".attr.json.tmp-dead")
    sidecar_leftover.write_text("{")
    incoming = base / ".incoming"
    temp = incoming / "deadbeef.part"
    temp.write_bytes(b"partial body")
    stray = incoming / "stray.part"  # a temp file of an upload that never reached its WAL row
    stray.write_bytes(b"x")
    tx_create = pending(db, se, "file_create", ghost_id, {
        "storage_filename": ghost.name, "storage_path": "2030/01/01/00", "relative_path": ghost_rel,
        "original_filename": "ghost.bin", "content_type": "application/octet-stream",
        "temp_path": ".incoming/deadbeef.part"})  # fmt: skip

    # 2. A PATCH that died after replacing the sidecar, before its database commit.
    upd = metas["updated"]
    upd_path = data_path(se, upd)
    new_sidecar = json.loads(sidecar_of(upd_path).read_text()) | {"description": "never committed"}
    sidecar_of(upd_path).write_text(json.dumps(new_sidecar))
    upd_tmp = upd_path.with_name(upd_path.name + ".attr.json.tmp-1234")
    upd_tmp.write_text("{")
    rel = relative_data
    tx_update = pending(db, se, "file_update", upd["file_id"], rel(upd))

    # 3. A DELETE that died after unlinking the sidecar (data still there): undone.
    d1 = metas["del_undo"]
    sidecar_of(data_path(se, d1)).unlink()
    tx_del_undo = pending(db, se, "file_delete", d1["file_id"], rel(d1))

    # 4. A DELETE that died after unlinking sidecar and data: cannot be undone, so finished.
    d2 = metas["del_finish"]
    sidecar_of(data_path(se, d2)).unlink()
    data_path(se, d2).unlink()
    tx_del_finish = pending(db, se, "file_delete", d2["file_id"], rel(d2))

    committed_before = (
        data_path(se, metas["committed"]).read_bytes(),
        sidecar_of(data_path(se, metas["committed"])).read_bytes(),
    )
    se.start()

    rows = {str(w["transaction_id"]): w for w in wal_rows(db, se)}
    assert not [w for w in rows.values() if w["status"] == "pending"]
    for tx in (tx_create, tx_update, tx_del_undo):
        assert rows[tx]["status"] == "rolled_back"
        assert rows[tx]["error_message"]
        assert rows[tx]["completed_at"] >= rows[tx]["started_at"]
    assert rows[tx_del_finish]["status"] == "failed"
    assert "completed" in rows[tx_del_finish]["error_message"]

    for leftover in (ghost, sidecar_of(ghost), sidecar_leftover, temp, stray):
        assert not leftover.exists(), leftover
    assert not upd_tmp.exists()
    assert json.loads(sidecar_of(upd_path).read_text())["description"] == "updated"
    assert sidecar_of(data_path(se, d1)).exists()
    assert file_row(db, se, d2["file_id"]) is None
    # committed data is never touched
    assert (data_path(se, metas["committed"]).read_bytes(),
            sidecar_of(data_path(se, metas["committed"])).read_bytes()) == committed_before  # fmt: skip

    with se.client(tokens.service) as c:
        report = c.get("/api/v1/cache/consistency").json()
        assert report["is_consistent"] is True, report
        assert c.get(f"/api/v1/files/{d1['file_id']}/download").content == b"del_undo"
        info = c.get("/api/v1/info").json()
    assert info["file_count"] == 3


@pytest.mark.slow
def test_killed_during_upload_leaves_nothing(
    db: psycopg.Connection[Any], se_factory: SEFactory, tokens: Tokens
) -> None:
    se = se_factory("kill")
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="k.bin"\r\n\r\n' + b"k" * 100_000
    request = (
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens.user}\r\n"
        f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {len(head) + 10**6}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", se.config.port)) as sock:
        sock.sendall(request + head)
        incoming = se.config.storage / ".incoming"
        for _ in range(100):
            if incoming.is_dir() and any(incoming.iterdir()):
                break
            time.sleep(0.05)
        assert any(incoming.iterdir())
        se.kill()
    se.start()
    assert not any((se.config.storage / ".incoming").iterdir())
    assert wal_rows(db, se) == []


def test_failure_after_wal_begin_is_rolled_back(db: psycopg.Connection[Any], se: SEProcess, tokens: Tokens) -> None:
    """A write that fails half-way answers (5xx here), removes what it wrote and leaves its WAL row
    ``rolled_back`` with an error message — never ``pending``."""
    fid = str(uuid.uuid4())
    # Block the sidecar path with a directory: the data file is placed, the sidecar write fails.
    now = datetime.now(UTC)
    blockers = []
    for seconds in range(4):
        ts = now + timedelta(seconds=seconds)
        name = f"doomed_username_{ts:%Y%m%dT%H%M%S}_{fid}.txt.attr.json"
        blocker = se.config.storage / f"{ts:%Y/%m/%d/%H}" / name
        blocker.mkdir(parents=True)
        blockers.append(blocker)
    before = {p for p in se.config.storage.rglob("*") if p.is_file()}
    with se.client(tokens.user) as c:
        r = upload(c, b"doomed", "doomed.txt", file_id=fid)
        assert r.status_code == 500
        assert c.get(f"/api/v1/files/{fid}").status_code == 404
    rows = wal_rows(db, se, fid)
    assert len(rows) == 1
    assert rows[0]["status"] == "rolled_back"
    assert "IsADirectoryError" in rows[0]["error_message"]
    assert {p for p in se.config.storage.rglob("*") if p.is_file()} == before
    for blocker in blockers:
        blocker.rmdir()


def test_blocked_hour_directory_is_a_server_error(
    db: psycopg.Connection[Any], se_factory: SEFactory, tokens: Tokens
) -> None:
    """A regular file where the hour directory belongs: the SE fails to store (5xx, not a 4xx that
    blames the client), and the WAL row ends rolled_back."""
    se = se_factory("blocked")
    now = datetime.now(UTC)
    blockers = {se.config.storage / f"{t:%Y/%m/%d/%H}" for t in (now, now + timedelta(hours=1))}
    for blocker in blockers:
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_bytes(b"not a directory")
    fid = str(uuid.uuid4())
    try:
        with se.client(tokens.user) as c:
            r = upload(c, b"blocked", "blocked.txt", file_id=fid)
    finally:
        for blocker in blockers:
            blocker.unlink()
    assert r.status_code == 500
    rows = wal_rows(db, se, fid)
    assert [w["status"] for w in rows] == ["rolled_back"]
    assert rows[0]["error_message"]
