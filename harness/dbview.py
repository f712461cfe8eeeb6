"""Read-only, prefix-aware view of an SE's PostgreSQL tables.

Every connection is opened with ``default_transaction_read_only=on``: the suite inspects what the SE
wrote and can never change it, even by mistake.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg.errors
import sqlalchemy as sa

from harness.ledger import Blocked
from harness.postgres.info import PostgresInfo

# The requirement that says which tables and columns an SE creates (suites/requirements.toml).
SCHEMA_REQUIREMENT = "SE-DB-001"
_MISSING = (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)


@contextlib.contextmanager
def _schema_blocks(sql: str) -> Iterator[None]:
    """A table or column the SE should have created and did not is the SE's schema failure (its own
    tests fail it); a test that only wanted to read rows there is blocked, never an error."""
    try:
        yield
    except sa.exc.ProgrammingError as exc:
        if not isinstance(exc.orig, _MISSING):
            raise
        cause = str(exc.orig).splitlines()[0]
        raise Blocked(f"read the SE's table ({sql[:120]})", covered_by=SCHEMA_REQUIREMENT,
                      cause=f"the SE's database has no such table or column: {cause}") from None  # fmt: skip


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str  # information_schema data_type, e.g. "uuid", "character varying", "jsonb"
    max_length: int | None
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class IndexInfo:
    name: str
    table: str
    definition: str  # pg_indexes.indexdef, e.g. "CREATE INDEX ... USING gin (metadata_json)"


class DbView:
    def __init__(self, info: PostgresInfo, prefix: str) -> None:
        self.info = info
        self.prefix = prefix
        self._engine = sa.create_engine(
            info.dsn("postgresql+psycopg"),
            connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5},
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=True,
        )

    def close(self) -> None:
        self._engine.dispose()

    def for_prefix(self, prefix: str) -> DbView:
        return DbView(self.info, prefix)

    def table(self, suffix: str) -> str:
        """``files`` → ``<prefix>_files``."""
        return f"{self.prefix}_{suffix}"

    # -- generic ---------------------------------------------------------------------------------
    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with _schema_blocks(sql), self._engine.connect() as conn:
            rows = conn.execute(sa.text(sql), params).mappings().all()
            return [dict(row) for row in rows]

    def scalar(self, sql: str, **params: Any) -> Any:
        with _schema_blocks(sql), self._engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    # -- catalogue -------------------------------------------------------------------------------
    def all_tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_name"
        )
        return [r["table_name"] for r in rows]

    def prefixed_tables(self) -> list[str]:
        return [t for t in self.all_tables() if t.startswith(self.prefix + "_")]

    def columns(self, table: str) -> dict[str, ColumnInfo]:
        rows = self.query(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position",
            t=table,
        )
        return {
            r["column_name"]: ColumnInfo(
                r["column_name"],
                r["data_type"],
                r["character_maximum_length"],
                r["is_nullable"] == "YES",
                r["column_default"],
            )
            for r in rows
        }

    def indexes(self, table: str | None = None) -> list[IndexInfo]:
        sql = "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog')"
        params: dict[str, Any] = {}
        if table is not None:
            sql += " AND tablename = :t"
            params["t"] = table
        else:
            sql += " AND tablename LIKE :p ESCAPE '\\'"
            params["p"] = self.prefix.replace("_", "\\_") + "\\_%"
        rows = self.query(sql + " ORDER BY indexname", **params)
        return [IndexInfo(r["indexname"], r["tablename"], r["indexdef"]) for r in rows]

    def all_index_names(self) -> list[str]:
        rows = self.query("SELECT indexname FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1")
        return [r["indexname"] for r in rows]

    # -- the SE's rows ---------------------------------------------------------------------------
    def file_row(self, file_id: str) -> dict[str, Any] | None:
        rows = self.query(f'SELECT * FROM "{self.table("files")}" WHERE file_id = :id', id=file_id)
        return rows[0] if rows else None

    def file_count(self) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{self.table("files")}"'))

    def wal_rows(self, file_id: str | None = None) -> list[dict[str, Any]]:
        sql = f'SELECT * FROM "{self.table("wal")}"'
        params: dict[str, Any] = {}
        if file_id is not None:
            sql += " WHERE file_id = :id"
            params["id"] = file_id
        return self.query(sql + " ORDER BY started_at, transaction_id", **params)

    def wal_count(self) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{self.table("wal")}"'))

    def wal_by_status(self, status: str) -> list[dict[str, Any]]:
        return self.query(f'SELECT * FROM "{self.table("wal")}" WHERE status = :s', s=status)

    def config_rows(self) -> list[dict[str, Any]]:
        return self.query(f'SELECT * FROM "{self.table("config")}"')
