"""Everything a request needs, built once per process from the validated configuration."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from reference_service.auth import VerifiedTokens
from reference_service.db.tables import Tables
from reference_service.errors import BadRequest
from reference_service.locks import FileLocks, ReadWriteLock
from reference_service.metrics import Metrics
from reference_service.settings import Config, Settings
from reference_service.storage.capacity import CapacityGuard
from reference_service.wal import Wal

WRITE_MODES = ("edit", "rw")
DELETE_MODES = ("edit",)


@dataclass
class Usage:
    """Last known counters, so /api/v1/info can still answer while the database is away."""

    used_bytes: int = 0
    file_count: int = 0
    fresh: bool = False


@dataclass
class Context:
    config: Config
    tables: Tables
    engine: AsyncEngine
    wal: Wal
    guard: CapacityGuard
    metrics: Metrics
    file_locks: FileLocks = field(default_factory=FileLocks)
    writers: ReadWriteLock = field(default_factory=ReadWriteLock)
    usage: Usage = field(default_factory=Usage)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    started: float = field(default_factory=time.time)

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def base(self) -> Path:
        return self.settings.storage_local_base_path

    @property
    def mode(self) -> str:
        return self.settings.app_mode


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


# The mode guards are coroutines: FastAPI runs a plain-function dependency in a worker thread, a hop
# that cost more than the check itself on every write (issue 11).
async def writable(request: Request) -> Context:
    ctx = get_ctx(request)
    if ctx.mode not in WRITE_MODES:
        raise BadRequest(f"the storage element is in mode {ctx.mode!r}; uploads and updates need edit or rw")
    return ctx


async def deletable(request: Request) -> Context:
    ctx = get_ctx(request)
    if ctx.mode not in DELETE_MODES:
        raise BadRequest(f"the storage element is in mode {ctx.mode!r}; deletes need edit")
    return ctx
