"""Hold an SE's tables locked, so that every statement of the SE on them waits.

Only for a PostgreSQL server the test owns (``Lifecycle.private_database()``): this takes ACCESS
EXCLUSIVE locks, which a read-only inspection of somebody's database must never do. The SE stays
connected and its server keeps answering (``SELECT 1`` works); what waits is exactly the SE's work on its
own tables — which is how a test stops an SE *between* what it does without its database (receiving a
body, placing files) and what it records there, without racing it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql

from harness.errors import HarnessError
from harness.postgres.info import PostgresInfo

LOCK_TIMEOUT_S = 10.0  # the SE holds no long transactions when idle: a lock not granted by then is a hang


@contextlib.contextmanager
def tables_locked(info: PostgresInfo, tables: Sequence[str], *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """ACCESS EXCLUSIVE locks on ``tables`` (in one transaction) until the block ends; then released.

    Raises ``HarnessError`` when the locks are not granted within ``timeout_s`` or no table is named:
    nothing would wait, and the caller's premise would be false.
    """
    if not tables:
        raise HarnessError(
            "no table to lock",
            expected="the SE's tables (at least one table carrying its prefix)",
            hint="lock after the SE has started and created its schema",
        )
    statement = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
        sql.SQL(", ").join(sql.Identifier(name) for name in tables)
    )
    conn = psycopg.connect(info.dsn("postgresql"), connect_timeout=10)
    try:
        try:
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms")))
            conn.execute(statement)  # psycopg opened the transaction: the locks last until the rollback
        except psycopg.Error as exc:
            raise HarnessError(
                f"could not lock {', '.join(tables)} on {info.host}:{info.port}: {exc}".strip(),
                expected=f"ACCESS EXCLUSIVE locks granted within {timeout_s:g}s",
                hint="another session holds a lock on these tables; is the SE inside a long transaction?",
            ) from exc
        yield
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()
