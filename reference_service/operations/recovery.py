"""Resolve WAL rows left ``pending`` by a crash (at start-up) or by a database outage (later).

Rules, per operation (committed data is never touched):

* ``file_create`` — the row and WAL commit are one transaction, so a pending create never has a row:
  remove its temp file, and its data file and sidecar unless a live row owns that storage name.
  → ``rolled_back``.
* ``file_update`` — the row still holds the pre-update state: remove sidecar temp files and rewrite
  the sidecar from the row. → ``rolled_back``.
* ``file_delete`` — if the data file is still there, rewrite the sidecar from the row (undo).
  → ``rolled_back``. If the data is already gone the delete cannot be undone: finish it (sidecar,
  row, counters). → ``failed`` with a message saying so.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from reference_service import repository
from reference_service.context import Context
from reference_service.records import FileRecord
from reference_service.storage import layout, sidecar
from reference_service.storage.fsops import remove_durably, temp_siblings

log = logging.getLogger("reference_service.recovery")
INTERRUPTED = "interrupted before completion (process stopped or database lost); "


def sweep_incoming(base: Path) -> int:
    """Everything in .incoming belongs to a request of a previous process: remove it."""
    incoming = layout.incoming_dir(base)
    stale = [p for p in incoming.iterdir() if p.is_file()] if incoming.is_dir() else []
    remove_durably(*stale)
    return len(stale)


def _within(base: Path, relative: str | None) -> Path | None:
    if not relative:
        return None
    path = (base / relative).resolve()
    return path if path.is_relative_to(base.resolve()) else None


async def resolve(ctx: Context, wal_row: Any) -> str:
    """Resolve one pending WAL row; returns the status written."""
    t = ctx.tables
    m = wal_row._mapping
    data: dict[str, Any] = m["operation_data"] or {}
    op, file_id = m["operation_type"], m["file_id"]
    data_path = _within(ctx.base, data.get("relative_path"))
    sidecar_path = layout.sidecar_path(data_path) if data_path else None
    status, message = "rolled_back", INTERRUPTED
    async with ctx.engine.begin() as conn:
        row = await repository.get(conn, t, file_id) if file_id else None
        owner = None
        if data.get("storage_filename"):
            owner = (
                await conn.execute(
                    select(t.files.c.file_id).where(t.files.c.storage_filename == data["storage_filename"])
                )
            ).scalar_one_or_none()
        leftovers = temp_siblings(sidecar_path) if sidecar_path else []
        if op == "file_create":
            temp = _within(ctx.base, data.get("temp_path"))
            doomed = [p for p in (temp,) if p] + leftovers
            if owner is None and data_path and sidecar_path:
                doomed += [data_path, sidecar_path]
            await asyncio.to_thread(remove_durably, *doomed)
            message += "removed what the upload had written"
        elif row is not None and data_path and (op == "file_update" or data_path.exists()):
            record = FileRecord.from_row(row)
            await asyncio.to_thread(remove_durably, *leftovers)
            await asyncio.to_thread(sidecar.write, layout.sidecar_path(data_path), sidecar.encode(record))
            message += "sidecar restored from the metadata row"
        elif op == "file_delete":
            doomed = leftovers + [p for p in (sidecar_path,) if p]
            await asyncio.to_thread(remove_durably, *doomed)
            if row is not None:
                await repository.delete(conn, t, file_id)
            status = "failed"
            message += "the data was already removed, so the delete was completed during recovery"
        else:
            await asyncio.to_thread(remove_durably, *leftovers)
            message += "nothing to restore (the file is gone)"
        await ctx.wal.finish_in(conn, m["transaction_id"], m["started_at"], status, message)
    log.warning("WAL %s (%s of %s) resolved as %s: %s", m["transaction_id"], op, file_id, status, message)
    return status


async def recover_pending(ctx: Context) -> int:
    """Start-up: every pending row is stale (one process owns a prefix). Returns rows resolved."""
    removed = await asyncio.to_thread(sweep_incoming, ctx.base)
    if removed:
        log.warning("removed %d stale temp file(s) from %s", removed, layout.incoming_dir(ctx.base))
    w = ctx.tables.wal
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(select(w).where(w.c.status == "pending").order_by(w.c.started_at))).all()
    for row in rows:
        try:
            await resolve(ctx, row)
        except Exception as exc:
            # Never block the start on one row: record why it could not be cleaned up.
            log.exception("WAL %s: recovery failed", row.transaction_id)
            async with ctx.engine.begin() as conn:
                message = f"recovery could not clean up: {type(exc).__name__}: {exc}"
                await ctx.wal.finish_in(conn, row.transaction_id, row.started_at, "failed", message)
    if rows:
        async with ctx.engine.begin() as conn:
            await repository.recount(conn, ctx.tables)
    return len(rows)


async def retry_unresolved(ctx: Context) -> None:
    """Background: resolve WAL rows whose failure could not be written while the database was away."""
    for tx_id in sorted(ctx.wal.unresolved, key=str):
        row = await _pending_row(ctx, tx_id)
        if row is not None:
            async with ctx.file_locks(row.file_id or uuid.UUID(int=0)):
                await resolve(ctx, row)
        ctx.wal.unresolved.discard(tx_id)


async def _pending_row(ctx: Context, tx_id: uuid.UUID) -> Any | None:
    w = ctx.tables.wal
    async with ctx.engine.connect() as conn:
        query = select(w).where(w.c.transaction_id == tx_id, w.c.status == "pending")
        return (await conn.execute(query)).first()
