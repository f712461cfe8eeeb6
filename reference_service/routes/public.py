"""Public endpoints: /, health, info, capacity, metrics. None needs a token."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from reference_service import __version__, repository
from reference_service.context import Context, get_ctx
from reference_service.db.engine import CONNECT_TIMEOUT_S
from reference_service.schemas import Capacity, CapacityFigures, Info, Live, Ready, RootInfo

router = APIRouter(tags=["service"])
log = logging.getLogger("reference_service")
SERVICE = "artstore-storage-element"


def status_of(ctx: Context) -> str:
    return "maintenance" if ctx.mode == "ar" else "operational"


async def refresh_usage(ctx: Context) -> bool:
    """Read the counters (bounded wait); on failure keep the last known ones. True if fresh."""

    async def read() -> tuple[int, int]:
        async with ctx.engine.connect() as conn:
            return await repository.usage(conn, ctx.tables)

    try:
        ctx.usage.used_bytes, ctx.usage.file_count = await asyncio.wait_for(read(), CONNECT_TIMEOUT_S)
        ctx.usage.fresh = True
    except Exception as exc:  # any failure here means "database not usable right now"
        log.debug("usage refresh failed: %s", exc)
        ctx.usage.fresh = False
    return ctx.usage.fresh


@router.get("/", response_model=RootInfo)
async def root(ctx: Context = Depends(get_ctx)) -> RootInfo:
    return RootInfo(service=SERVICE, version=__version__, mode=ctx.mode,
                    storage_type=ctx.settings.storage_type, status=status_of(ctx))  # fmt: skip


@router.get("/health/live", response_model=Live)
async def live() -> Live:
    return Live(status="ok")


@router.get("/health/ready", response_model=Ready, responses={503: {"model": Ready}})
async def ready(ctx: Context = Depends(get_ctx)) -> Any:
    checks: dict[str, str] = {}

    async def ping() -> None:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(ping(), CONNECT_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    base = ctx.base
    checks["storage"] = "ok" if base.is_dir() and os.access(base, os.W_OK | os.X_OK) else "not writable"
    ok = all(v == "ok" for v in checks.values())
    body = Ready(status="ready" if ok else "not_ready", mode=ctx.mode, checks=checks)
    return body if ok else JSONResponse(body.model_dump(), status_code=503)


@router.get("/api/v1/info", response_model=Info)
async def info(ctx: Context = Depends(get_ctx)) -> Info:
    await refresh_usage(ctx)
    s = ctx.settings
    return Info(
        name=s.storage_element_id,
        display_name=s.display_name,
        version=__version__,
        mode=ctx.mode,
        storage_type=s.storage_type,
        base_path=str(s.storage_local_base_path),
        capacity_bytes=s.storage_max_size,
        used_bytes=ctx.usage.used_bytes,
        file_count=ctx.usage.file_count,
        status=status_of(ctx),  # type: ignore[arg-type]
        priority=s.se_priority,
        element_id=s.storage_element_id,
        timestamp=datetime.now(UTC),
    )


def _health(fresh: bool, percent: float) -> str:
    if not fresh:
        return "degraded"
    if percent >= 100:
        return "full"
    if percent >= 95:
        return "critical"
    return "warning" if percent >= 85 else "healthy"


@router.get("/api/v1/capacity", response_model=Capacity)
async def capacity(ctx: Context = Depends(get_ctx)) -> Capacity:
    fresh = await refresh_usage(ctx)
    total, used = ctx.settings.storage_max_size, ctx.usage.used_bytes
    percent = round(100.0 * used / total, 2)
    return Capacity(
        storage_id=ctx.settings.storage_element_id,
        mode=ctx.mode,
        capacity=CapacityFigures(total=total, used=used, available=max(total - used, 0), percent_used=percent),
        health=_health(fresh, percent),  # type: ignore[arg-type]
        last_update=datetime.now(UTC),
        backend=ctx.settings.storage_type,
        location=str(ctx.base),
    )


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})  # fmt: skip
async def metrics(ctx: Context = Depends(get_ctx)) -> PlainTextResponse:
    fresh = await refresh_usage(ctx)
    gauges = [
        ("se_up", "1 while the process serves", 1.0, {}),
        ("se_database_up", "1 if the last database read succeeded", float(fresh), {}),
        ("se_mode_info", "The current mode", 1.0, {"mode": ctx.mode}),
        ("se_capacity_bytes", "STORAGE_MAX_SIZE", float(ctx.settings.storage_max_size), {}),
        ("se_used_bytes", "Bytes of stored files", float(ctx.usage.used_bytes), {}),
        ("se_files", "Number of stored files", float(ctx.usage.file_count), {}),
        (
            "se_uploads_in_flight_bytes",
            "Bytes received by uploads not yet committed",
            float(ctx.guard.inflight),
            {},
        ),
    ]
    wal_counts: dict[tuple[str, str], int] = {}
    if fresh:
        w = ctx.tables.wal
        try:
            async with ctx.engine.connect() as conn:
                query = select(w.c.operation_type, w.c.status, func.count()).group_by(w.c.operation_type, w.c.status)
                wal_counts = {(op, st): int(n) for op, st, n in (await conn.execute(query)).all()}
        except Exception as exc:
            log.debug("WAL counts unavailable: %s", exc)
    body = ctx.metrics.render(gauges, wal_counts)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
