"""GET /api/v1/files/{id}/download: streamed in 1 MiB chunks, with Range and ETag support."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import IO, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from reference_service.auth import Principal, principal
from reference_service.context import Context, get_ctx
from reference_service.errors import NotFound
from reference_service.httpheaders import Unsatisfiable, content_disposition, etag_matches, parse_range
from reference_service.metrics import Metrics
from reference_service.operations.common import paths
from reference_service.records import FileRecord
from reference_service.routes.files import load_row
from reference_service.schemas import Detail, errors

router = APIRouter(prefix="/api/v1/files", tags=["files"])
log = logging.getLogger("reference_service")
CHUNK = 1024 * 1024

_BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the file", **_BINARY},
    206: {"description": "the requested byte range", **_BINARY},
    304: {"description": "not modified (If-None-Match matched the ETag)"},
    416: {"description": "range not satisfiable", "model": Detail},
    **errors(401, 404, 503),
}


async def _chunks(fh: IO[bytes], start: int, length: int, metrics: Metrics) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(fh.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK, remaining))
            if not chunk:  # the file shrank underneath us; Content-Length is now a lie, stop
                log.error("file %s ended early", fh.name)
                break
            remaining -= len(chunk)
            metrics.bytes_downloaded += len(chunk)
            yield chunk
    finally:
        fh.close()


@router.get("/{file_id}/download", response_class=Response, responses=RESPONSES)
async def download(
    file_id: uuid.UUID,
    request: Request,
    _who: Principal = Depends(principal),
    ctx: Context = Depends(get_ctx),
) -> Response:
    record = FileRecord.from_row(await load_row(ctx, file_id))
    etag = f'"{record.checksum}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(record.original_filename),
        # The stored type was checked at upload (plain ASCII media type) before being echoed here.
        "Content-Type": record.content_type,
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    data_path, _ = paths(ctx, record)
    try:
        fh = await asyncio.to_thread(open, data_path, "rb")
    except FileNotFoundError:
        log.error("file %s: data missing at %s", file_id, data_path)
        raise NotFound(f"the data of file {file_id} is missing on disk") from None
    size = (await asyncio.to_thread(os.fstat, fh.fileno())).st_size
    if_range = request.headers.get("if-range")
    try:
        wanted = parse_range(request.headers.get("range"), size) if if_range in (None, etag) else None
    except Unsatisfiable:
        fh.close()
        return JSONResponse(
            {"detail": f"range not satisfiable (size {size})"},
            status_code=416,
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    start, end, status = 0, size - 1, 200
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(_chunks(fh, start, end - start + 1, ctx.metrics), status_code=status, headers=headers)
