"""Small helpers shared by the reference-service tests."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from tests.reference.seproc import SEProcess


def upload(
    client: httpx.Client,
    content: bytes = b"hello world\n",
    filename: str = "hello.txt",
    content_type: str = "text/plain",
    **fields: Any,
) -> httpx.Response:
    data = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()}
    return client.post("/api/v1/files/upload", files={"file": (filename, content, content_type)}, data=data)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def query(db: psycopg.Connection[Any], sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def file_row(db: psycopg.Connection[Any], se: SEProcess, file_id: str | uuid.UUID) -> dict[str, Any] | None:
    rows = query(db, f"SELECT * FROM {se.config.prefix}_files WHERE file_id = %s", str(file_id))
    return rows[0] if rows else None


def wal_rows(
    db: psycopg.Connection[Any], se: SEProcess, file_id: str | uuid.UUID | None = None
) -> list[dict[str, Any]]:
    table = f"{se.config.prefix}_wal"
    if file_id is None:
        return query(db, f"SELECT * FROM {table} ORDER BY started_at")
    return query(db, f"SELECT * FROM {table} WHERE file_id = %s ORDER BY started_at", str(file_id))


def stored_files(se: SEProcess) -> list[Path]:
    """Every regular file under the storage base (including the staging area)."""
    return sorted(p for p in se.config.storage.rglob("*") if p.is_file())


def data_path(se: SEProcess, meta: dict[str, Any]) -> Path:
    return se.config.storage / meta["storage_path"] / meta["storage_filename"]
