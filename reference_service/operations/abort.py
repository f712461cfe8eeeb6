"""An upload whose client went away mid-body: one warning line, one ``rolled_back`` WAL row, a 499.

A client abort is an ordinary event (a cancelled transfer, a dropped connection), so it must not
look like a server error to an operator: no traceback, no 5xx in /metrics. It is still a failed
write that had put bytes on disk (in ``.incoming``, already removed), so the WAL shows it the way it
shows every failure: ``rolled_back`` with an ``error_message`` (contract §6). The row is written in
its final state at once; there was no ``pending`` row, because nothing is left for recovery to do.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path

from reference_service.auth import Principal
from reference_service.context import Context
from reference_service.errors import ClientClosed
from reference_service.storage.receive import BodyAborted

log = logging.getLogger("reference_service")


def _file_id(fields: dict[str, str]) -> uuid.UUID | None:
    try:
        return uuid.UUID(fields["file_id"].strip()) if fields.get("file_id") else None
    except ValueError:
        return None


async def record_abort(
    ctx: Context, who: Principal, exc: BodyAborted, declared: str, started_at: datetime
) -> ClientClosed:
    """Log and record the abort; returns the error the caller raises (answered 499, if anyone listened)."""
    message = f"client closed the connection after {exc.body_bytes} of {declared or 'unknown'} body bytes"
    data = {
        "temp_path": str(Path(exc.temp_path).relative_to(ctx.base)),
        "body_bytes_received": exc.body_bytes,
        "file_bytes_received": exc.file_bytes,
        "declared_length": declared or None,
        "original_filename": exc.filename,
    }
    try:
        tx_id = await ctx.wal.record_failure("file_create", _file_id(exc.fields), who.sub, data, started_at, message)
    except Exception as db_exc:  # the database may be away: the abort itself is already undone
        log.warning("upload aborted by the client (%s); WAL row not written: %s", message, db_exc)
    else:
        log.warning("upload aborted by the client (%s); temp file removed, WAL %s rolled_back", message, tx_id)
    return ClientClosed(message)
