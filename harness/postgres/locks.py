"""Hold an SE's tables locked, so that the SE's statements on them wait; see who waits; cut them off.

Only for a PostgreSQL server the test owns (``Lifecycle.private_database()``): this takes table locks
and terminates backends, which a read-only inspection of somebody's database must never do. The SE stays
connected and its server keeps answering (``SELECT 1`` works); what waits is exactly the SE's work on its
own tables — which is how a test stops an SE *between* what it does without its database (receiving a
body, placing files) and what it records there, without racing it (docs/decisions.md).

* ``ACCESS EXCLUSIVE`` (the default): every statement on the tables waits, reads too.
* ``EXCLUSIVE``: plain reads go on, every change waits (a write stopped after it read its row).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql

from harness.errors import HarnessError
from harness.postgres.info import PostgresInfo

LOCK_TIMEOUT_S = 10.0  # the SE holds no long transactions when idle: a lock not granted by then is a hang
MODES = ("ACCESS EXCLUSIVE", "EXCLUSIVE")


@contextlib.contextmanager
def tables_locked(
    info: PostgresInfo, tables: Sequence[str], *, mode: str = "ACCESS EXCLUSIVE", timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[int]:
    """``mode`` locks on ``tables`` (in one transaction) until the block ends, then released; yields the
    lock holder's backend pid (for ``waiting_for``/``terminate_waiting``).

    Raises ``HarnessError`` when the locks are not granted within ``timeout_s`` or no table is named:
    nothing would wait, and the caller's premise would be false. The server may be stopped under the
    lock: the release then has nothing to do.
    """
    if mode not in MODES:
        raise HarnessError(f"lock mode {mode!r}", expected=" or ".join(MODES))
    if not tables:
        raise HarnessError(
            "no table to lock",
            expected="the SE's tables (at least one table carrying its prefix)",
            hint="lock after the SE has started and created its schema",
        )
    statement = sql.SQL("LOCK TABLE {} IN {} MODE").format(
        sql.SQL(", ").join(sql.Identifier(name) for name in tables), sql.SQL(mode)
    )
    conn = psycopg.connect(info.dsn("postgresql"), connect_timeout=10)
    try:
        try:
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms")))
            conn.execute(statement)  # psycopg opened the transaction: the locks last until the rollback
        except psycopg.Error as exc:
            raise HarnessError(
                f"could not lock {', '.join(tables)} on {info.host}:{info.port}: {exc}".strip(),
                expected=f"{mode} locks granted within {timeout_s:g}s",
                hint="another session holds a lock on these tables; is the SE inside a long transaction?",
            ) from exc
        yield conn.info.backend_pid
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def waiting_for(info: PostgresInfo, holder: int) -> int:
    """How many backends wait for a lock that backend ``holder`` holds."""
    with psycopg.connect(info.dsn("postgresql"), connect_timeout=5, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (holder,)
        ).fetchone()
    return int(row[0]) if row else 0


def terminate_waiting(info: PostgresInfo, holder: int) -> int:
    """Terminate the backends that wait for a lock that ``holder`` holds (their clients see the connection
    lost; the server stays up). Returns how many."""
    with psycopg.connect(info.dsn("postgresql"), connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (holder,)
        ).fetchall()
    return len(rows)
