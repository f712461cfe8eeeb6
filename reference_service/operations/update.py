"""PATCH /api/v1/files/{id}: new sidecar first, then row + WAL commit in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

from reference_service import repository
from reference_service.auth import Principal
from reference_service.context import Context
from reference_service.errors import NotFound
from reference_service.operations.common import as_service_error, best_effort, describe, encode_sidecar, paths
from reference_service.records import FileRecord, utcnow
from reference_service.schemas import FileUpdate
from reference_service.storage import sidecar
from reference_service.storage.fsops import remove_quietly, temp_siblings

TRACKED = ("description", "version", "custom_attributes")


def apply(old: FileRecord, body: FileUpdate) -> FileRecord:
    sent = body.model_fields_set
    changes: dict[str, Any] = {}
    if "description" in sent:
        changes["description"] = body.description
    if "version" in sent:
        changes["version"] = body.version
    attrs = dict(old.custom_attributes)
    if "custom_attributes" in sent:
        attrs = dict(body.custom_attributes or {})
    if body.metadata:
        attrs.update(body.metadata)
    changes["custom_attributes"] = attrs
    # updated_at must advance even when two PATCHes land within one clock tick.
    changes["updated_at"] = max(utcnow(), old.updated_at + timedelta(microseconds=1))
    return old.evolve(**changes)


async def update_file(ctx: Context, who: Principal, file_id: uuid.UUID, body: FileUpdate) -> FileRecord:
    async with ctx.file_locks(file_id):
        async with ctx.engine.connect() as conn:
            row = await repository.get(conn, ctx.tables, file_id)
        if row is None:
            raise NotFound(f"file {file_id} not found")
        old = FileRecord.from_row(row)
        new = apply(old, body)
        new_bytes = encode_sidecar(new)
        _data_path, sidecar_path = paths(ctx, old)
        plan = {
            "storage_filename": old.storage_filename,
            "storage_path": old.storage_path,
            "relative_path": old.relative_path,
            "changes": {
                name: {"old": getattr(old, name), "new": getattr(new, name)}
                for name in TRACKED
                if getattr(old, name) != getattr(new, name)
            },
            "updated_at": new.updated_at.isoformat(),
        }
        async with ctx.writers.shared():
            entry = await ctx.wal.begin("file_update", file_id, who.sub, plan)
            try:
                await asyncio.to_thread(sidecar.write, sidecar_path, new_bytes)
                async with ctx.engine.begin() as conn:
                    await repository.save(conn, ctx.tables, new)
                    await ctx.wal.commit_in(conn, entry, plan)
            except BaseException as exc:
                await best_effort("restore sidecar", _restore, sidecar_path, old)
                await ctx.wal.rollback(entry, describe(exc))
                raise as_service_error(exc) from exc
    return new


def _restore(sidecar_path: Any, old: FileRecord) -> None:
    """Put the pre-update sidecar back so that sidecar and row agree again."""
    remove_quietly(*temp_siblings(sidecar_path))
    # An oversized legacy sidecar cannot be re-encoded: leave whatever is there.
    with contextlib.suppress(sidecar.SidecarTooLarge):
        sidecar.write(sidecar_path, sidecar.encode(old))
