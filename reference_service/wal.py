"""The write-ahead log (``<p>_wal``).

Protocol for every file operation:

1. :meth:`Wal.begin` commits a ``pending`` row *before* anything is touched on disk, with the paths
   the operation will write, so that recovery after a crash knows what to clean.
2. The operation does its disk work, then one database transaction applies the metadata change
   *and* :meth:`Wal.commit_in` — the row can only be ``committed`` together with the change.
3. On failure the operation cleans up and calls :meth:`Wal.rollback`. If even that cannot reach
   the database, the transaction id is remembered and resolved later (see recovery.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reference_service.db.engine import driver_connection
from reference_service.db.tables import Tables
from reference_service.records import utcnow

log = logging.getLogger("reference_service.wal")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class WalEntry:
    transaction_id: uuid.UUID
    operation_type: str
    file_id: uuid.UUID | None
    started_at: datetime
    data: dict[str, Any]


def _finish_values(entry: WalEntry, status: str) -> dict[str, Any]:
    now = max(utcnow(), entry.started_at)
    return {
        "status": status,
        "completed_at": now,
        "duration_ms": int((now - entry.started_at).total_seconds() * 1000),
    }


class Wal:
    def __init__(self, engine: AsyncEngine, tables: Tables) -> None:
        self.engine = engine
        self.table = tables.wal
        # Transaction ids whose failure could not be recorded (database away): resolved later.
        self.unresolved: set[uuid.UUID] = set()

    async def begin(
        self, operation_type: str, file_id: uuid.UUID | None, user_id: str, data: dict[str, Any],
        pg: psycopg.AsyncConnection | None = None,
    ) -> WalEntry:  # fmt: skip
        """Insert the ``pending`` row, committed when this returns: a single statement in autocommit
        mode on ``pg`` (a :func:`~reference_service.db.engine.driver_connection`) or on a connection of
        its own."""
        if pg is None:
            async with driver_connection(self.engine) as own:
                return await self.begin(operation_type, file_id, user_id, data, own)
        entry = WalEntry(uuid.uuid4(), operation_type, file_id, utcnow(), data)
        await pg.execute(
            f"INSERT INTO {self.table.name} (transaction_id, operation_type, status, file_id, operation_data, "
            "started_at, user_id) VALUES (%s, %s, 'pending', %s, %s, %s, %s)",
            (entry.transaction_id, operation_type, file_id, Jsonb(data), entry.started_at, user_id),
        )
        return entry

    async def record_failure(
        self, operation_type: str, file_id: uuid.UUID | None, user_id: str, data: dict[str, Any],
        started_at: datetime, error: str,
    ) -> uuid.UUID:  # fmt: skip
        """One row written straight as ``rolled_back``: for an operation that failed before it needed
        a ``pending`` row (nothing of it is left for recovery to clean), but that the log must show."""
        tx_id = uuid.uuid4()
        now = max(utcnow(), started_at)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(self.table).values(
                    transaction_id=tx_id,
                    operation_type=operation_type,
                    status="rolled_back",
                    file_id=file_id,
                    operation_data=data,
                    # Same 2000-character cap as finish_in; spelt differently on purpose, since a
                    # mutant (mutants/mutants.toml) anchors on finish_in's line, which must stay unique.
                    error_message=error[:MAX_ERROR_CHARS],
                    started_at=started_at,
                    completed_at=now,
                    duration_ms=int((now - started_at).total_seconds() * 1000),
                    user_id=user_id,
                )
            )
        return tx_id

    async def commit_in(
        self, conn: AsyncConnection | psycopg.AsyncConnection, entry: WalEntry, data: dict[str, Any]
    ) -> datetime:
        """Mark committed inside the caller's transaction (atomic with the metadata change); ``conn`` is
        a SQLAlchemy connection or, on the upload's path, a psycopg one in :func:`transaction`."""
        values = _finish_values(entry, "committed")
        if isinstance(conn, psycopg.AsyncConnection):
            await conn.execute(
                f"UPDATE {self.table.name} SET status = %(status)s, operation_data = %(data)s, error_message = NULL"
                ", completed_at = %(completed_at)s, duration_ms = %(duration_ms)s"
                " WHERE transaction_id = %(tx)s",
                {**values, "data": Jsonb(data), "tx": entry.transaction_id},
            )
            return values["completed_at"]
        await conn.execute(
            update(self.table)
            .where(self.table.c.transaction_id == entry.transaction_id)
            .values(operation_data=data, error_message=None, **values)
        )
        completed: datetime = values["completed_at"]
        return completed

    async def rollback(self, entry: WalEntry, error: str, status: str = "rolled_back") -> None:
        try:
            async with self.engine.begin() as conn:
                await self.finish_in(conn, entry.transaction_id, entry.started_at, status, error)
        except Exception as exc:  # the database may be the reason we are rolling back
            log.warning("WAL %s: could not record %s (%s); will retry", entry.transaction_id, status, exc)
            self.unresolved.add(entry.transaction_id)

    async def finish_in(
        self, conn: AsyncConnection, tx_id: uuid.UUID, started_at: datetime, status: str, error: str
    ) -> None:
        now = max(utcnow(), started_at)
        await conn.execute(
            update(self.table)
            .where(self.table.c.transaction_id == tx_id, self.table.c.status == "pending")
            .values(
                status=status,
                error_message=error[:2000],
                completed_at=now,
                duration_ms=int((now - started_at).total_seconds() * 1000),
            )
        )
