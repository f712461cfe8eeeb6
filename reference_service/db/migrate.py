"""Run the Alembic migrations for one prefix, serialized across every SE in the database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from reference_service.db.engine import LOCK_CLASS, MIGRATION_LOCK

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection, prefix: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["prefix"] = prefix
    return cfg


def _upgrade(connection: Connection, prefix: str) -> None:
    command.upgrade(alembic_config(connection, prefix), "head")


async def migrate(engine: AsyncEngine, prefix: str) -> None:
    # PostgreSQL DDL is transactional: the whole upgrade runs in one transaction holding a
    # transaction-level advisory lock, so two SEs starting at the same moment (same or different
    # prefix) take turns, and a failed migration leaves nothing behind.
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": LOCK_CLASS, "key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade, prefix)
