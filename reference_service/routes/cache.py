"""Cache maintenance endpoints (service accounts only, every mode)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from reference_service.auth import Principal, service_account
from reference_service.context import Context, get_ctx
from reference_service.operations import cache
from reference_service.schemas import CleanupResult, ConsistencyReport, RebuildResult, errors

router = APIRouter(prefix="/api/v1/cache", tags=["cache"])


@router.get("/consistency", response_model=ConsistencyReport, responses=errors(401, 403, 503))
async def consistency(_who: Principal = Depends(service_account), ctx: Context = Depends(get_ctx)) -> ConsistencyReport:
    return ConsistencyReport(**await cache.consistency(ctx))


@router.post("/rebuild", response_model=RebuildResult, responses=errors(401, 403, 409, 503))
async def rebuild_full(_who: Principal = Depends(service_account), ctx: Context = Depends(get_ctx)) -> RebuildResult:
    return RebuildResult(**await cache.rebuild(ctx, full=True))


@router.post("/rebuild/incremental", response_model=RebuildResult, responses=errors(401, 403, 409, 503))
async def rebuild_incremental(
    _who: Principal = Depends(service_account), ctx: Context = Depends(get_ctx)
) -> RebuildResult:
    return RebuildResult(**await cache.rebuild(ctx, full=False))


@router.post("/cleanup-expired", response_model=CleanupResult, responses=errors(401, 403, 409, 503))
async def cleanup_expired(_who: Principal = Depends(service_account), ctx: Context = Depends(get_ctx)) -> CleanupResult:
    return CleanupResult(**await cache.cleanup_expired(ctx))
