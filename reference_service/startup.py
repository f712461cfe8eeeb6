"""Everything that must succeed before the first request: storage, database, schema, recovery.

Runs before uvicorn starts so that a failure is one clear line on stderr and a non-zero exit,
rather than a traceback from inside the server's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from sqlalchemy import text

from reference_service import repository
from reference_service.app import build_context
from reference_service.context import Context
from reference_service.db.migrate import migrate
from reference_service.operations.recovery import recover_pending
from reference_service.settings import Config

log = logging.getLogger("reference_service")


class StartupError(Exception):
    pass


def check_storage(config: Config) -> None:
    base = config.settings.storage_local_base_path
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"STORAGE_LOCAL_BASE_PATH={str(base)!r} cannot be created ({exc.strerror})") from None
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise StartupError(f"STORAGE_LOCAL_BASE_PATH={str(base)!r} is not a writable directory")


async def wait_for_database(ctx: Context) -> None:
    s = ctx.settings
    deadline = time.monotonic() + s.db_connect_timeout_s
    while True:
        try:
            async with ctx.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise StartupError(
                    f"PostgreSQL at DB_HOST={s.db_host!r} DB_PORT={s.db_port} "
                    f"(DB_DATABASE={s.db_database!r}, DB_USERNAME={s.db_username!r}) "
                    f"not reachable within {s.db_connect_timeout_s:g}s: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                ) from None
            await asyncio.sleep(0.5)


async def prepare(config: Config) -> None:
    check_storage(config)
    ctx = build_context(config)
    s = config.settings
    try:
        await wait_for_database(ctx)
        await migrate(ctx.engine, ctx.tables.prefix)
        async with ctx.engine.begin() as conn:
            await repository.ensure_config(conn, ctx.tables, s.storage_element_id, s.app_mode, s.storage_max_size)
        resolved = await recover_pending(ctx)
        if resolved:
            log.warning("resolved %d stale pending WAL row(s)", resolved)
        async with ctx.engine.begin() as conn:
            await repository.recount(conn, ctx.tables)
    finally:
        await ctx.engine.dispose()
