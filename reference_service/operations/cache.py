"""The metadata cache against its source of truth, the sidecars: report, rebuild, expiry cleanup.

Rebuild and cleanup hold a per-prefix PostgreSQL advisory lock (a second caller gets 409, also from
another process or host) and the in-process writer lock exclusively, so no upload, PATCH or DELETE
is half-way between its sidecar and its row while the table is being rewritten.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from reference_service import repository
from reference_service.context import Context
from reference_service.db.engine import release_prefix_lock, try_prefix_lock
from reference_service.errors import Conflict, ServiceError
from reference_service.operations.common import paths
from reference_service.records import FileRecord, SidecarInvalid, utcnow
from reference_service.storage import layout, sidecar

LIST_LIMIT = 100  # ids listed per category in the report details


@dataclass
class Scan:
    records: dict[uuid.UUID, tuple[Path, FileRecord]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def scan_sidecars(base: Path) -> Scan:
    """Read every ``*.attr.json`` under the base (v1 and v2), skipping the upload staging area."""
    scan = Scan()
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == base and layout.INCOMING_DIR in dirnames:
            dirnames.remove(layout.INCOMING_DIR)
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(layout.SIDECAR_SUFFIX):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(base)
            try:
                record = sidecar.read(path)
            except (OSError, SidecarInvalid) as exc:
                scan.errors.append(f"{rel}: {exc}")
                continue
            if record.file_id in scan.records:
                scan.errors.append(f"{rel}: file_id {record.file_id} also in {scan.records[record.file_id][0]}")
                continue
            scan.records[record.file_id] = (rel, record)
    return scan


async def _rows(ctx: Context) -> dict[uuid.UUID, Any]:
    async with ctx.engine.connect() as conn:
        return {row.file_id: row for row in (await conn.execute(select(ctx.tables.files))).all()}


async def consistency(ctx: Context) -> dict[str, Any]:
    scan = await asyncio.to_thread(scan_sidecars, ctx.base)
    rows = await _rows(ctx)
    now = utcnow()
    orphan_cache = sorted(set(rows) - set(scan.records), key=str)
    orphan_attr = sorted(set(scan.records) - set(rows), key=str)
    mismatched = sorted(
        (fid for fid in set(rows) & set(scan.records) if FileRecord.from_row(rows[fid]) != scan.records[fid][1]),
        key=str,
    )
    expired = sorted((fid for fid, row in rows.items() if repository.is_expired(row, now)), key=str)
    return {
        "total_attr_files": len(scan.records) + len(scan.errors),
        "total_cache_entries": len(rows),
        "orphan_cache_count": len(orphan_cache),
        "orphan_attr_count": len(orphan_attr),
        "expired_cache_count": len(expired),
        "is_consistent": not (orphan_cache or orphan_attr or mismatched or scan.errors),
        "details": {
            "orphan_cache_file_ids": [str(f) for f in orphan_cache[:LIST_LIMIT]],
            "orphan_attr_files": [str(scan.records[f][0]) for f in orphan_attr[:LIST_LIMIT]],
            "mismatched_file_ids": [str(f) for f in mismatched[:LIST_LIMIT]],
            "mismatched_count": len(mismatched),
            "expired_file_ids": [str(f) for f in expired[:LIST_LIMIT]],
            "invalid_attr_files": scan.errors[:LIST_LIMIT],
        },
        "checked_at": now,
    }


@asynccontextmanager
async def exclusive(ctx: Context, what: str) -> AsyncIterator[None]:
    async with ctx.engine.connect() as lock_conn:
        if not await try_prefix_lock(lock_conn, ctx.tables.prefix, "cache"):
            raise Conflict(f"another cache maintenance operation is running; {what} refused")
        try:
            async with ctx.writers.exclusive():
                if ctx.settings.se_debug_rebuild_delay_s > 0:
                    await asyncio.sleep(ctx.settings.se_debug_rebuild_delay_s)
                yield
        finally:
            await release_prefix_lock(lock_conn, ctx.tables.prefix, "cache")
            await lock_conn.commit()


async def rebuild(ctx: Context, *, full: bool) -> dict[str, Any]:
    """Full: the table becomes exactly the sidecars (rows without a sidecar are removed).
    Incremental: rows missing or differing from their sidecar are (re)written; nothing removed."""
    started = time.perf_counter()
    created = updated = removed = 0
    async with exclusive(ctx, "rebuild"):
        scan = await asyncio.to_thread(scan_sidecars, ctx.base)
        rows = await _rows(ctx)
        errors = list(scan.errors)
        ttl = ctx.settings.cache_ttl_hours
        async with ctx.engine.begin() as conn:
            if full:
                for file_id in set(rows) - set(scan.records):
                    removed += await repository.delete(conn, ctx.tables, file_id)
            for file_id, (rel, record) in scan.records.items():
                existing = rows.get(file_id)
                if not full and existing is not None and FileRecord.from_row(existing) == record:
                    continue
                try:
                    async with conn.begin_nested():
                        await repository.upsert(conn, ctx.tables, record, ttl)
                except Exception as exc:  # e.g. two sidecars claim one storage name
                    errors.append(f"{rel}: not restored ({type(exc).__name__})")
                    continue
                if existing is None:
                    created += 1
                else:
                    updated += 1
            await repository.recount(conn, ctx.tables)
    return {
        "status": "completed",
        "kind": "full" if full else "incremental",
        "attr_files_found": len(scan.records) + len(scan.errors),
        "entries_created": created,
        "entries_updated": updated,
        "entries_removed": removed,
        "errors": errors[:LIST_LIMIT],
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }


async def cleanup_expired(ctx: Context) -> dict[str, Any]:
    """Expired rows are refreshed from their sidecar (sidecar wins) or, without one, removed."""
    started = time.perf_counter()
    refreshed = removed = 0
    async with exclusive(ctx, "cleanup"):
        now = utcnow()
        expired = [row for row in (await _rows(ctx)).values() if repository.is_expired(row, now)]
        async with ctx.engine.begin() as conn:
            for row in expired:
                record = FileRecord.from_row(row)
                try:
                    _, sidecar_path = paths(ctx, record)
                    fresh = await asyncio.to_thread(sidecar.read, sidecar_path)
                except (OSError, SidecarInvalid, ServiceError):
                    removed += await repository.delete(conn, ctx.tables, record.file_id)
                    continue
                await repository.upsert(conn, ctx.tables, fresh, row.cache_ttl_hours)
                refreshed += 1
            await repository.recount(conn, ctx.tables)
    return {
        "status": "completed",
        "expired_found": len(expired),
        "refreshed": refreshed,
        "removed": removed,
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }
