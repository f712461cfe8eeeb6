"""Queries on ``<p>_files`` and ``<p>_config`` (the metadata cache and its counters)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from reference_service.db.tables import Tables
from reference_service.records import FileRecord, utcnow


def search_text(record: FileRecord) -> str:
    words = [record.original_filename, record.description, record.version, record.created_by_username]
    return " ".join(w for w in words if w)


def search_vector(record: FileRecord) -> ColumnElement[Any]:
    """Computed by PostgreSQL from the searchable text; 'simple' so no language is assumed."""
    return func.to_tsvector(literal_column("'simple'"), search_text(record))


async def get(conn: AsyncConnection, t: Tables, file_id: uuid.UUID) -> Any | None:
    return (await conn.execute(select(t.files).where(t.files.c.file_id == file_id))).first()


async def exists(conn: AsyncConnection, t: Tables, file_id: uuid.UUID) -> bool:
    query = select(t.files.c.file_id).where(t.files.c.file_id == file_id)
    return (await conn.execute(query)).first() is not None


async def page(conn: AsyncConnection, t: Tables, skip: int, limit: int) -> tuple[int, Sequence[Any]]:
    total = (await conn.execute(select(func.count()).select_from(t.files))).scalar_one()
    rows = (
        await conn.execute(
            select(t.files).order_by(t.files.c.created_at.desc(), t.files.c.file_id.desc()).offset(skip).limit(limit)
        )
    ).all()
    return int(total), rows


async def insert(conn: AsyncConnection, t: Tables, record: FileRecord, ttl_hours: int) -> None:
    values = {**record.to_row(), "cache_ttl_hours": ttl_hours, "search_vector": search_vector(record)}
    await conn.execute(t.files.insert().values(**values, cache_updated_at=utcnow()))


async def upsert(conn: AsyncConnection, t: Tables, record: FileRecord, ttl_hours: int) -> None:
    """Restore a row from a sidecar: every sidecar field wins over what the cache had."""
    values = {
        **record.to_row(),
        "cache_updated_at": utcnow(),
        "cache_ttl_hours": ttl_hours,
        "search_vector": search_vector(record),
    }
    stmt = pg_insert(t.files).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.files.c.file_id], set_={k: stmt.excluded[k] for k in values if k != "file_id"}
    )
    await conn.execute(stmt)


async def save(conn: AsyncConnection, t: Tables, record: FileRecord) -> None:
    """Write a changed record; the row now equals the freshly written sidecar, so it is fresh."""
    row = record.to_row()
    row.pop("file_id")
    stmt = update(t.files).where(t.files.c.file_id == record.file_id)
    await conn.execute(stmt.values(**row, cache_updated_at=utcnow(), search_vector=search_vector(record)))


async def delete(conn: AsyncConnection, t: Tables, file_id: uuid.UUID) -> int:
    result = await conn.execute(t.files.delete().where(t.files.c.file_id == file_id).returning(t.files.c.file_size))
    size = result.scalar_one_or_none()
    if size is not None:
        await add_usage(conn, t, -int(size), -1)
    return 0 if size is None else 1


def is_expired(row: Any, now: datetime) -> bool:
    m = row._mapping
    return bool(m["cache_updated_at"] + timedelta(hours=m["cache_ttl_hours"]) < now)


# -- counters in <p>_config ----------------------------------------------------------------------
async def ensure_config(conn: AsyncConnection, t: Tables, element_id: str, mode: str, capacity: int) -> None:
    now = utcnow()
    stmt = pg_insert(t.config).values(
        id=1, element_id=element_id, mode=mode, capacity_bytes=capacity, started_at=now, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.config.c.id],
        set_={"element_id": element_id, "mode": mode, "capacity_bytes": capacity,
              "started_at": now, "updated_at": now},
    )  # fmt: skip
    await conn.execute(stmt)


async def recount(conn: AsyncConnection, t: Tables) -> None:
    """Set the counters from the files table (after recovery or a rebuild changed it wholesale)."""
    await conn.execute(
        text(
            f"UPDATE {t.config.name} SET used_bytes = s.used, file_count = s.n, updated_at = now() "
            f"FROM (SELECT coalesce(sum(file_size), 0) AS used, count(*) AS n FROM {t.files.name}) s "
            "WHERE id = 1"
        )
    )


async def usage(conn: AsyncConnection, t: Tables) -> tuple[int, int]:
    row = (await conn.execute(select(t.config.c.used_bytes, t.config.c.file_count))).one()
    return int(row.used_bytes), int(row.file_count)


async def add_usage(conn: AsyncConnection, t: Tables, size: int, count: int, limit: int | None = None) -> bool:
    """Adjust the counters; with ``limit`` the update only happens if it stays within capacity.

    The row lock taken by the UPDATE serializes concurrent uploads at commit time, which makes this
    the exact capacity check (the streaming check is only an early exit).
    """
    c = t.config.c
    stmt = (
        update(t.config)
        .where(c.id == 1)
        .values(used_bytes=c.used_bytes + size, file_count=c.file_count + count, updated_at=utcnow())
    )
    if limit is not None:
        stmt = stmt.where(c.used_bytes + size <= limit)
    result = await conn.execute(stmt.returning(c.id))
    return result.first() is not None


# -- the upload's hot path: plain SQL on a driver connection (db.engine.driver_connection) -------------
# Same statements as above, minus the per-call statement building (issue 11); psycopg prepares them
# on each connection after a few uses.
FILE_COLUMNS = ("file_id", "original_filename", "storage_filename", "file_size", "content_type", "created_at",
                "updated_at", "created_by_id", "created_by_username", "created_by_fullname", "description",
                "version", "storage_path", "checksum", "metadata_json")  # fmt: skip


async def usage_now(pg: psycopg.AsyncConnection, t: Tables) -> tuple[int, int]:
    row = await (await pg.execute(f"SELECT used_bytes, file_count FROM {t.config.name}")).fetchone()
    if row is None:
        raise RuntimeError(f"{t.config.name} has no row")
    return int(row[0]), int(row[1])


async def is_stored(pg: psycopg.AsyncConnection, t: Tables, file_id: uuid.UUID) -> bool:
    cur = await pg.execute(f"SELECT 1 FROM {t.files.name} WHERE file_id = %s", (file_id,))
    return await cur.fetchone() is not None


async def insert_row(pg: psycopg.AsyncConnection, t: Tables, record: FileRecord, ttl_hours: int) -> None:
    # The columns of record.to_row(), read off the record (to_row deep-copies for nothing here).
    params = [getattr(record, c) for c in FILE_COLUMNS[:-1]] + [Jsonb(record.custom_attributes), utcnow(),
                                                                ttl_hours, search_text(record)]  # fmt: skip
    await pg.execute(
        f"INSERT INTO {t.files.name} ({', '.join(FILE_COLUMNS)}, cache_updated_at, cache_ttl_hours, search_vector) "
        f"VALUES ({'%s, ' * (len(FILE_COLUMNS) + 2)}to_tsvector('simple', %s::text))",
        params,
    )


async def claim_usage(pg: psycopg.AsyncConnection, t: Tables, size: int, count: int, limit: int) -> bool:
    """:func:`add_usage` with a limit: the guarded UPDATE that is the exact capacity check."""
    cur = await pg.execute(
        f"UPDATE {t.config.name} SET used_bytes = used_bytes + %s::bigint, file_count = file_count + %s::bigint, "
        "updated_at = %s WHERE id = 1 AND used_bytes + %s::bigint <= %s::bigint RETURNING id",
        (size, count, utcnow(), size, limit),
    )
    return await cur.fetchone() is not None
