"""The async engine, and the PostgreSQL advisory-lock keys this service uses.

Connections time out after 2 s so that readiness answers quickly while the database is away, and
``pool_pre_ping`` drops connections that died with it, so the service recovers by itself.
"""

from __future__ import annotations

from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from reference_service.settings import Settings

CONNECT_TIMEOUT_S = 2
# Advisory locks take two int4 keys; the first one names this application ("SE" in ASCII).
LOCK_CLASS = 0x5345
MIGRATION_LOCK = 1  # one migration at a time in the whole database, whatever the prefix


def database_url(settings: Settings) -> URL:
    return URL.create(
        "postgresql+psycopg",
        username=settings.db_username,
        password=settings.db_password or None,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_database,
    )


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        database_url(settings),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "reference_se"},
    )


async def try_prefix_lock(conn: AsyncConnection, prefix: str, purpose: str) -> bool:
    """Session-level try-lock scoped to this prefix (e.g. one cache rebuild per SE at a time)."""
    result = await conn.execute(
        text("SELECT pg_try_advisory_lock(:cls, hashtext(:key))"),
        {"cls": LOCK_CLASS, "key": f"{prefix}:{purpose}"},
    )
    return bool(result.scalar_one())


async def release_prefix_lock(conn: AsyncConnection, prefix: str, purpose: str) -> None:
    await conn.execute(
        text("SELECT pg_advisory_unlock(:cls, hashtext(:key))"),
        {"cls": LOCK_CLASS, "key": f"{prefix}:{purpose}"},
    )
