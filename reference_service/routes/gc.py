"""Garbage-collector endpoints (service accounts only, every mode)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Depends
from sqlalchemy import select

from reference_service import repository
from reference_service.auth import Principal, service_account
from reference_service.context import Context, get_ctx
from reference_service.operations.delete import delete_file
from reference_service.schemas import GcDeleteRequest, GcDeleteResult, GcExists, errors

router = APIRouter(prefix="/api/v1/gc", tags=["gc"])


@router.delete("/{file_id}", response_model=GcDeleteResult, responses=errors(400, 401, 403, 503))
async def gc_delete(
    file_id: uuid.UUID,
    body: GcDeleteRequest | None = Body(default=None),
    who: Principal = Depends(service_account),
    ctx: Context = Depends(get_ctx),
) -> GcDeleteResult:
    reason = body.reason if body else None
    deleted = await delete_file(ctx, who, file_id, source="gc", reason=reason)
    if deleted is not None:
        return GcDeleteResult(status="deleted", file_id=file_id, deleted_at=deleted.deleted_at,
                              deleted_by=who.sub, reason=reason)  # fmt: skip
    # Idempotent: report the earlier delete if the WAL knows it (no new WAL row either way).
    w = ctx.tables.wal
    query = (
        select(w.c.completed_at, w.c.user_id, w.c.operation_data)
        .where(w.c.file_id == file_id, w.c.operation_type == "file_delete", w.c.status == "committed")
        .order_by(w.c.completed_at.desc())
        .limit(1)
    )
    async with ctx.engine.connect() as conn:
        previous = (await conn.execute(query)).first()
    return GcDeleteResult(
        status="already_deleted",
        file_id=file_id,
        deleted_at=previous.completed_at if previous else None,
        deleted_by=previous.user_id if previous else None,
        reason=(previous.operation_data or {}).get("reason") if previous else None,
    )


@router.get("/{file_id}/exists", response_model=GcExists, responses=errors(401, 403, 503))
async def gc_exists(
    file_id: uuid.UUID, _who: Principal = Depends(service_account), ctx: Context = Depends(get_ctx)
) -> GcExists:
    async with ctx.engine.connect() as conn:
        return GcExists(exists=await repository.exists(conn, ctx.tables, file_id), file_id=file_id)
