"""The async engine, and the PostgreSQL advisory-lock keys this service uses.

Connections time out after 2 s so that readiness answers quickly while the database is away, and
``pool_pre_ping`` drops connections that died with it, so the service recovers by itself. The ping is a
round trip only when the pooled connection's socket has something to read (:func:`_quiet`): a server
that restarts, stops or terminates the backend says so on the socket (an error, then EOF), and a quiet,
idle connection is as alive as a ``SELECT`` on it would find it - without a round trip per checkout.

The upload's hot path talks to PostgreSQL through :func:`driver_connection`: a connection of the same
pool (checked out, pinged and returned like any other), used through psycopg directly with plain SQL,
because building, caching and compiling a SQLAlchemy statement and wrapping its result cost several
times the round trip itself for these one-row statements (issue 11's profile). :func:`transaction`
sends ``BEGIN`` and the statements in one pipeline, then the ``COMMIT`` as a query of its own.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
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
    engine = create_async_engine(
        database_url(settings),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "reference_se"},
    )
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping
    dialect.do_ping = lambda dbapi_connection: _quiet(dbapi_connection) or ping(dbapi_connection)  # type: ignore[method-assign]
    return engine


_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _quiet(dbapi_connection: Any) -> bool:
    """The pre-ping's shortcut: an idle psycopg connection in good standing whose socket has nothing to
    read. Anything else (a notice, PostgreSQL's goodbye, EOF, a closed connection) gets the real ping."""
    pg = getattr(dbapi_connection, "_connection", None)  # SQLAlchemy's adapter holds the psycopg connection
    if not isinstance(pg, psycopg.AsyncConnection) or pg.closed:
        return False
    if pg.pgconn.status != psycopg.pq.ConnStatus.OK or pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    try:
        poll = select.poll()
        poll.register(pg.pgconn.socket, _READABLE)
        return not poll.poll(0)
    except (OSError, ValueError, psycopg.Error):
        return False


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


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection's psycopg connection in autocommit mode: each statement is a transaction of
    its own, committed when it answers (no ``BEGIN``/``ROLLBACK`` round trips around a lone statement).

    A connection that broke, or whose statement was interrupted (cancellation), is invalidated rather
    than returned to the pool in an unknown state.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg: psycopg.AsyncConnection = raw.driver_connection  # type: ignore[assignment]
        await pg.set_autocommit(True)
        try:
            yield pg
        except BaseException as exc:
            if pg.broken or pg.closed or not isinstance(exc, Exception):
                await conn.invalidate()
            elif pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await _rollback_or_invalidate(conn, pg)
            raise
        finally:
            if not pg.closed and pg.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                await pg.set_autocommit(False)
            elif not conn.invalidated:
                await conn.invalidate()


async def _rollback_or_invalidate(conn: AsyncConnection, pg: psycopg.AsyncConnection) -> None:
    try:
        await pg.execute("ROLLBACK", prepare=False)
    except Exception:
        await conn.invalidate()


@asynccontextmanager
async def transaction(pg: psycopg.AsyncConnection) -> AsyncIterator[psycopg.AsyncConnection]:
    """One transaction on a :func:`driver_connection`: ``BEGIN`` and the block's statements go out in
    one pipeline (a statement whose result the block reads waits for what was queued before it),
    then ``COMMIT`` is sent as a simple query of its own once they all succeeded and is acknowledged
    before the block returns; an exception rolls the transaction back (see :func:`driver_connection`).
    """
    async with pg.pipeline():
        await pg.execute("BEGIN", prepare=False)
        yield pg
    # Never a prepared statement: "COMMIT" goes out as a simple query, where a system-call trace sees
    # it (SE-DUR-013), not as the Bind of a statement psycopg prepared after a few transactions.
    await pg.execute("COMMIT", prepare=False)
