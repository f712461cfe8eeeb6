"""/api/v1/files: upload, metadata, list, PATCH, DELETE."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from reference_service import repository
from reference_service.auth import Principal, deleter, principal
from reference_service.context import Context, deletable, get_ctx, writable
from reference_service.errors import NotFound
from reference_service.operations import delete, update, upload
from reference_service.records import FileRecord, utcnow
from reference_service.schemas import UPLOAD_BODY, FileList, FileMetadata, FileUpdate, UploadResult, errors

router = APIRouter(prefix="/api/v1/files", tags=["files"])
MAX_LIMIT = 100


def to_metadata(row: Any) -> FileMetadata:
    record = FileRecord.from_row(row)
    fields = {k: v for k, v in record.to_sidecar().items() if k in FileMetadata.model_fields}
    return FileMetadata(
        **fields,
        cache_updated_at=row.cache_updated_at,
        cache_ttl_hours=row.cache_ttl_hours,
        cache_expired=repository.is_expired(row, utcnow()),
    )


async def load_row(ctx: Context, file_id: uuid.UUID) -> Any:
    async with ctx.engine.connect() as conn:
        row = await repository.get(conn, ctx.tables, file_id)
    if row is None:
        raise NotFound(f"file {file_id} not found")
    return row


@router.post(
    "/upload",
    status_code=201,
    response_model=UploadResult,
    openapi_extra=UPLOAD_BODY,
    responses=errors(400, 401, 409, 503, 507),
)
async def upload_file(
    request: Request, who: Principal = Depends(principal), ctx: Context = Depends(writable)
) -> UploadResult:
    record = await upload.handle(ctx, who, request)
    return UploadResult(
        file_id=record.file_id,
        original_filename=record.original_filename,
        file_size=record.file_size,
        checksum=record.checksum,
        message="file uploaded",
    )


@router.get("", response_model=FileList, responses=errors(401, 503))
async def list_files(
    skip: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(MAX_LIMIT, ge=1, le=MAX_LIMIT),
    _who: Principal = Depends(principal),
    ctx: Context = Depends(get_ctx),
) -> FileList:
    async with ctx.engine.connect() as conn:
        total, rows = await repository.page(conn, ctx.tables, skip, limit)
    return FileList(total=total, files=[to_metadata(r) for r in rows])


@router.get("/{file_id}", response_model=FileMetadata, responses=errors(401, 404, 503))
async def get_metadata(
    file_id: uuid.UUID, _who: Principal = Depends(principal), ctx: Context = Depends(get_ctx)
) -> FileMetadata:
    return to_metadata(await load_row(ctx, file_id))


@router.patch("/{file_id}", response_model=FileMetadata, responses=errors(400, 401, 404, 503))
async def patch_file(
    file_id: uuid.UUID,
    body: FileUpdate,
    who: Principal = Depends(principal),
    ctx: Context = Depends(writable),
) -> FileMetadata:
    await update.update_file(ctx, who, file_id, body)
    return to_metadata(await load_row(ctx, file_id))


@router.delete("/{file_id}", status_code=204, response_class=Response, responses=errors(400, 401, 403, 404, 503))
async def delete_file(
    file_id: uuid.UUID, who: Principal = Depends(deleter), ctx: Context = Depends(deletable)
) -> Response:
    if await delete.delete_file(ctx, who, file_id, source="api") is None:
        raise NotFound(f"file {file_id} not found")
    return Response(status_code=204)
