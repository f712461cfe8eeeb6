"""POST /api/v1/files/upload: stream, validate, then place data + sidecar + row under the WAL."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from fastapi import Request

from reference_service import repository
from reference_service.auth import Principal
from reference_service.context import Context
from reference_service.db.engine import driver_connection, transaction
from reference_service.errors import BadRequest, Conflict, InsufficientStorage
from reference_service.jsonvalue import InvalidValue, check_text, parse_object
from reference_service.operations.abort import record_abort
from reference_service.operations.common import as_service_error, best_effort, describe, encode_sidecar, paths
from reference_service.records import FileRecord, utcnow
from reference_service.storage import layout, sidecar
from reference_service.storage.capacity import CapacityExceeded
from reference_service.storage.fsops import place_no_clobber, remove_durably, remove_quietly, temp_siblings
from reference_service.storage.receive import BodyAborted, ReceivedFile, UploadRejected, receive

MAX_ORIGINAL_FILENAME = 500  # the column width; longer names are refused rather than cut
MAX_VERSION = 50
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Multipart framing and the small text fields: allowed on top of the file when checking
# Content-Length up front (the exact check happens on the file bytes while streaming).
FRAMING_ALLOWANCE = 64 * 1024
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[\x20-\x7e]*)?")


def content_type_of(value: str | None) -> str:
    """The part's Content-Type if it is a well-formed media type, else octet-stream: it is echoed
    in download headers, so nothing that is not plain visible ASCII may pass."""
    if value and len(value) <= 255 and _MEDIA_TYPE.fullmatch(value.strip()):
        return value.strip()
    return DEFAULT_CONTENT_TYPE


def _fields(received: ReceivedFile, who: Principal) -> dict[str, Any]:
    f = received.fields
    name = received.filename
    if not name:
        raise BadRequest("the 'file' part needs a filename")
    if len(name) > MAX_ORIGINAL_FILENAME:
        raise BadRequest(f"the filename is longer than {MAX_ORIGINAL_FILENAME} characters")
    try:
        check_text(name, "filename")
        description = check_text(f["description"], "description") if "description" in f else None
        version = check_text(f["version"], "version") if "version" in f else None
        attrs = parse_object(f["custom_attributes"], "custom_attributes") if f.get("custom_attributes") else {}
    except InvalidValue as exc:
        raise BadRequest(str(exc)) from None
    if version is not None and len(version) > MAX_VERSION:
        raise BadRequest(f"version is longer than {MAX_VERSION} characters")
    try:
        file_id = uuid.UUID(f["file_id"].strip()) if f.get("file_id") else uuid.uuid4()
    except ValueError:
        raise BadRequest("file_id must be a UUID") from None
    return {"file_id": file_id, "original_filename": name, "description": description,
            "version": version, "custom_attributes": attrs}  # fmt: skip


async def handle(ctx: Context, who: Principal, request: Request) -> FileRecord:
    started_at = utcnow()
    async with driver_connection(ctx.engine) as pg:
        used, _count = await repository.usage_now(pg, ctx.tables)
    declared = request.headers.get("content-length", "")
    available = ctx.guard.available(used)
    if declared.isdigit() and int(declared) - FRAMING_ALLOWANCE > available:
        raise InsufficientStorage(f"insufficient storage: the body is {declared} bytes, {available} available")
    with ctx.guard.reserve(used) as reservation:
        try:
            received = await receive(request, layout.incoming_dir(ctx.base), reservation)
        except UploadRejected as exc:
            raise BadRequest(str(exc)) from None
        except CapacityExceeded as exc:
            raise InsufficientStorage(str(exc)) from None
        except BodyAborted as exc:
            raise await record_abort(ctx, who, exc, declared, started_at) from None
        try:
            record = await _store(ctx, who, received)
        finally:
            remove_quietly(received.temp_path)
    ctx.metrics.bytes_uploaded += record.file_size
    return record


async def _store(ctx: Context, who: Principal, received: ReceivedFile) -> FileRecord:
    fields = _fields(received, who)
    now = utcnow()
    file_id: uuid.UUID = fields["file_id"]
    record = FileRecord(
        **fields,
        storage_filename=layout.make_storage_filename(fields["original_filename"], who.name, now, file_id),
        file_size=received.size,
        content_type=content_type_of(received.content_type),
        created_at=now,
        updated_at=now,
        created_by_id=who.sub,
        created_by_username=who.name,
        created_by_fullname=who.full_name,
        storage_path=layout.relative_dir(now),
        checksum=received.sha256,
    )
    sidecar_bytes = encode_sidecar(record)
    data_path, sidecar_path = paths(ctx, record)
    plan = {
        "original_filename": record.original_filename,
        "storage_filename": record.storage_filename,
        "storage_path": record.storage_path,
        "relative_path": record.relative_path,
        "content_type": record.content_type,
    }
    async with ctx.file_locks(file_id), ctx.writers.shared():
        temp = str(received.temp_path.relative_to(ctx.base))
        # One connection for the duplicate check and the pending WAL row, which is committed (its
        # own transaction) before anything is placed.
        async with driver_connection(ctx.engine) as pg:
            if await repository.is_stored(pg, ctx.tables, file_id):
                raise Conflict(f"file_id {file_id} is already stored")
            entry = await ctx.wal.begin("file_create", file_id, who.sub, {**plan, "temp_path": temp}, pg)
        placed: list[Any] = []
        try:
            # No directory fsync here: the sidecar's, in the same directory, covers the data's link.
            await asyncio.to_thread(place_no_clobber, received.temp_path, data_path, sync_dir=False)
            placed.append(data_path)
            await asyncio.to_thread(sidecar.write, sidecar_path, sidecar_bytes)
            placed.append(sidecar_path)
            # Row, WAL commit and counters in one transaction (one pipeline, then COMMIT); the
            # guarded counter UPDATE is the exact capacity check and rolls it all back.
            async with driver_connection(ctx.engine) as pg, transaction(pg) as conn:
                await repository.insert_row(conn, ctx.tables, record, ctx.settings.cache_ttl_hours)
                result = {
                    "file_id": str(file_id),
                    "checksum": record.checksum,
                    "file_size": record.file_size,
                }
                await ctx.wal.commit_in(conn, entry, {**plan, "result": result})
                if not await repository.claim_usage(
                    conn, ctx.tables, record.file_size, 1, limit=ctx.settings.storage_max_size
                ):
                    raise CapacityExceeded(record.file_size, 0)
        except BaseException as exc:
            # Only what *this* request created is removed; a racing upload's files stay.
            await best_effort("remove partial upload", remove_durably, *placed, *temp_siblings(sidecar_path))
            await ctx.wal.rollback(entry, describe(exc))
            raise as_service_error(exc) from exc
    return record
