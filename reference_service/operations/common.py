"""Helpers shared by the file operations."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy.exc import IntegrityError

from reference_service.context import Context
from reference_service.errors import (
    BadRequest,
    Conflict,
    InsufficientStorage,
    ServiceError,
    is_db_unavailable,
)
from reference_service.records import FileRecord
from reference_service.storage import layout, sidecar
from reference_service.storage.capacity import CapacityExceeded
from reference_service.storage.fsops import NameTaken
from reference_service.storage.sidecar import SidecarTooLarge

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
log = logging.getLogger("reference_service")


def paths(ctx: Context, record: FileRecord) -> tuple[Path, Path]:
    """Data and sidecar path; refuses a path that would leave the storage base (a planted sidecar
    with ``storage_path: "../.."`` must not make us serve or delete files elsewhere)."""
    base = ctx.base.resolve()
    data = layout.data_path(base, record.storage_path, record.storage_filename).resolve()
    if not data.is_relative_to(base):
        raise ServiceError(f"file {record.file_id} points outside the storage base")
    return data, layout.sidecar_path(data)


def encode_sidecar(record: FileRecord) -> bytes:
    """The sidecar bytes, or 400 before anything is written when they would pass the 4096-byte limit."""
    try:
        return sidecar.encode(record)
    except SidecarTooLarge as exc:
        raise BadRequest(str(exc)) from None


def as_service_error(exc: BaseException) -> BaseException:
    """Translate what can go wrong during a write into the status the client should see."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, IntegrityError | psycopg.IntegrityError | NameTaken):
        return Conflict("a file with this file_id (or storage name) already exists")
    if isinstance(exc, CapacityExceeded):
        return InsufficientStorage(str(exc))
    if isinstance(exc, SidecarTooLarge):
        return BadRequest(str(exc))
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return InsufficientStorage("the storage volume is full")
    if is_db_unavailable(exc) or not isinstance(exc, Exception):
        return exc  # 503 by the global handler; cancellation propagates untouched
    # Answered as a handled 500 (the connection stays usable) after logging the traceback once.
    log.error("operation failed", exc_info=exc)
    return ServiceError(f"internal error ({type(exc).__name__}); the operation was rolled back")


async def best_effort(what: str, fn: Callable[..., object], *args: object) -> None:
    """Run a blocking clean-up step in a thread; log a failure instead of raising it, so that the
    WAL row is still resolved (a clean-up problem must not leave the row pending)."""
    try:
        await asyncio.to_thread(fn, *args)
    except Exception:
        log.exception("clean-up step failed: %s", what)


def describe(exc: BaseException) -> str:
    if is_db_unavailable(exc):
        return f"database unavailable: {type(exc).__name__}"
    text = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
