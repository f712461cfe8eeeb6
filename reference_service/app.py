"""The FastAPI application for one validated configuration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from reference_service import __version__, errors
from reference_service.context import Context
from reference_service.db.engine import create_engine
from reference_service.db.tables import build_tables
from reference_service.metrics import Metrics
from reference_service.middleware import AccessLog
from reference_service.operations.recovery import retry_unresolved
from reference_service.routes import cache, download, files, gc, public
from reference_service.settings import Config
from reference_service.storage.capacity import CapacityGuard
from reference_service.wal import Wal

log = logging.getLogger("reference_service")
RETRY_INTERVAL_S = 5.0


def build_context(config: Config) -> Context:
    settings = config.settings
    tables = build_tables(settings.db_table_prefix)  # the prefix comes from configuration, at run time
    engine = create_engine(settings)
    return Context(
        config=config,
        tables=tables,
        engine=engine,
        wal=Wal(engine, tables),
        guard=CapacityGuard(settings.storage_max_size),
        metrics=Metrics(),
    )


async def _resolver(ctx: Context) -> None:
    """Resolve WAL rows that a database outage left pending, once the database answers again."""
    while True:
        await asyncio.sleep(RETRY_INTERVAL_S)
        if ctx.wal.unresolved:
            try:
                await retry_unresolved(ctx)
            except Exception as exc:  # still down: try again next round
                log.info("pending WAL rows not yet resolvable: %s", exc)


def create_app(config: Config) -> FastAPI:
    ctx = build_context(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_resolver(ctx))
        log.info("serving element %s, prefix %s, mode %s",
                 ctx.settings.storage_element_id, ctx.tables.prefix, ctx.mode)  # fmt: skip
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await ctx.engine.dispose()

    app = FastAPI(
        title="ArtStore storage element (reference)",
        version=__version__,
        description="Reference implementation of the storage-element contract.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    for module in (public, files, download, gc, cache):
        app.include_router(module.router)
    app.add_middleware(AccessLog, metrics=ctx.metrics)
    return app
