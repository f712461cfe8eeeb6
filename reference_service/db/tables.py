"""Table definitions, built at run time for one table prefix.

Several SEs share one database and are told apart by ``DB_TABLE_PREFIX``, so nothing here is bound
at import time: :func:`build_tables` returns a fresh ``MetaData`` for the prefix in the settings.
Every table, constraint and index name *starts with* the prefix, which is what lets an operator (and
the suite) see at a glance which SE owns what.

The Alembic migration under ``reference_service/migrations`` creates the same schema explicitly
(migrations are frozen history); a test compares the two so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

WAL_OPERATIONS = ("file_create", "file_update", "file_delete")
WAL_STATUSES = ("pending", "committed", "rolled_back", "failed")


@dataclass(frozen=True)
class Tables:
    prefix: str
    metadata: MetaData
    files: Table
    wal: Table
    config: Table

    @property
    def version_table(self) -> str:
        return f"{self.prefix}_alembic_version"


def build_tables(prefix: str) -> Tables:
    md = MetaData()
    p = prefix
    files = Table(
        f"{p}_files",
        md,
        Column("file_id", UUID(as_uuid=True), primary_key=True),
        Column("original_filename", String(500), nullable=False),
        Column("storage_filename", String(500), nullable=False),
        Column("file_size", BigInteger, nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("cache_updated_at", DateTime(timezone=True), nullable=False),
        Column("cache_ttl_hours", Integer, nullable=False, server_default=text("24")),
        Column("created_by_id", String(255), nullable=False),
        Column("created_by_username", String(255), nullable=False),
        Column("created_by_fullname", String(500), nullable=True),
        Column("description", Text, nullable=True),
        Column("version", String(50), nullable=True),
        Column("storage_path", String(1000), nullable=False),
        Column("checksum", String(64), nullable=False),
        Column("search_vector", TSVECTOR, nullable=True),
        Column("metadata_json", JSONB, nullable=True),
        UniqueConstraint("storage_filename", name=f"{p}_files_storage_filename_key"),
    )
    files.primary_key.name = f"{p}_files_pkey"
    Index(f"{p}_files_metadata_json_idx", files.c.metadata_json, postgresql_using="gin")
    Index(f"{p}_files_search_vector_idx", files.c.search_vector, postgresql_using="gin")
    Index(f"{p}_files_created_at_idx", files.c.created_at)

    wal = Table(
        f"{p}_wal",
        md,
        Column("transaction_id", UUID(as_uuid=True), primary_key=True),
        Column("operation_type", String(50), nullable=False),
        Column("status", String(20), nullable=False),
        Column("file_id", UUID(as_uuid=True), nullable=True),
        Column("operation_data", JSONB, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("completed_at", DateTime(timezone=True), nullable=True),
        Column("duration_ms", Integer, nullable=True),
        Column("user_id", String(255), nullable=True),
        CheckConstraint("status IN ('pending', 'committed', 'rolled_back', 'failed')", name=f"{p}_wal_status_check"),
    )
    wal.primary_key.name = f"{p}_wal_pkey"
    Index(f"{p}_wal_status_idx", wal.c.status)
    Index(f"{p}_wal_file_id_idx", wal.c.file_id)
    Index(f"{p}_wal_started_at_idx", wal.c.started_at)

    config = Table(
        f"{p}_config",
        md,
        # A singleton: the check keeps it to one row, id 1.
        Column("id", SmallInteger, primary_key=True),
        Column("element_id", String(255), nullable=False),
        Column("mode", String(10), nullable=False),
        Column("capacity_bytes", BigInteger, nullable=False),
        Column("used_bytes", BigInteger, nullable=False, server_default=text("0")),
        Column("file_count", BigInteger, nullable=False, server_default=text("0")),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        CheckConstraint("id = 1", name=f"{p}_config_singleton_check"),
    )
    config.primary_key.name = f"{p}_config_pkey"
    return Tables(prefix=p, metadata=md, files=files, wal=wal, config=config)
