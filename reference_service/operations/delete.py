"""DELETE /api/v1/files/{id} and the GC delete: one implementation, two callers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from reference_service import repository
from reference_service.auth import Principal
from reference_service.context import Context
from reference_service.operations.common import as_service_error, best_effort, describe, paths
from reference_service.records import FileRecord
from reference_service.storage import sidecar
from reference_service.storage.fsops import remove_durably


@dataclass(frozen=True)
class Deleted:
    record: FileRecord
    deleted_at: datetime


async def delete_file(
    ctx: Context, who: Principal, file_id: uuid.UUID, source: str, reason: str | None = None
) -> Deleted | None:
    """Remove row, sidecar and data; ``None`` if the file is not stored (no WAL row then).

    Order inside the transaction: row deleted and WAL committed (not yet visible), then the sidecar
    (the truth marker) is unlinked, then the data, then COMMIT. A crash before COMMIT leaves the row
    and a ``pending`` WAL row; recovery puts the sidecar back if the data is still there, else
    finishes the delete.
    """
    async with ctx.file_locks(file_id):
        async with ctx.engine.connect() as conn:
            row = await repository.get(conn, ctx.tables, file_id)
        if row is None:
            return None
        record = FileRecord.from_row(row)
        data_path, sidecar_path = paths(ctx, record)
        plan = {
            "original_filename": record.original_filename,
            "storage_filename": record.storage_filename,
            "storage_path": record.storage_path,
            "relative_path": record.relative_path,
            "checksum": record.checksum,
            "file_size": record.file_size,
            "source": source,
            "reason": reason,
        }
        async with ctx.writers.shared():
            entry = await ctx.wal.begin("file_delete", file_id, who.sub, plan)
            sidecar_gone = data_gone = False
            try:
                async with ctx.engine.begin() as conn:
                    await repository.delete(conn, ctx.tables, file_id)
                    deleted_at = await ctx.wal.commit_in(conn, entry, plan)
                    await asyncio.to_thread(remove_durably, sidecar_path)
                    sidecar_gone = True
                    await asyncio.to_thread(remove_durably, data_path)
                    data_gone = True
            except BaseException as exc:
                if data_gone:
                    # Cannot be undone: let recovery finish the delete once the database answers.
                    ctx.wal.unresolved.add(entry.transaction_id)
                else:
                    if sidecar_gone:
                        data = sidecar.encode(record)
                        await best_effort("restore sidecar", sidecar.write, sidecar_path, data)
                    await ctx.wal.rollback(entry, describe(exc))
                raise as_service_error(exc) from exc
    return Deleted(record, deleted_at)
