"""Initial schema: <p>_files, <p>_wal, <p>_config.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out explicitly (not generated from db/tables.py at run time) because a migration is history:
it must create what it created on the day it was written. tests/reference/test_schema.py checks that
the migrated schema equals build_tables(prefix).
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = context.config.attributes["prefix"]
    tz = sa.DateTime(timezone=True)
    op.create_table(
        f"{p}_files",
        sa.Column("file_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("original_filename", sa.String(500), nullable=False),
        sa.Column("storage_filename", sa.String(500), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("cache_updated_at", tz, nullable=False),
        sa.Column("cache_ttl_hours", sa.Integer(), server_default=sa.text("24"), nullable=False),
        sa.Column("created_by_id", sa.String(255), nullable=False),
        sa.Column("created_by_username", sa.String(255), nullable=False),
        sa.Column("created_by_fullname", sa.String(500), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.String(50), nullable=True),
        sa.Column("storage_path", sa.String(1000), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("search_vector", pg.TSVECTOR(), nullable=True),
        sa.Column("metadata_json", pg.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("file_id", name=f"{p}_files_pkey"),
        sa.UniqueConstraint("storage_filename", name=f"{p}_files_storage_filename_key"),
    )
    op.create_index(f"{p}_files_metadata_json_idx", f"{p}_files", ["metadata_json"], postgresql_using="gin")
    op.create_index(f"{p}_files_search_vector_idx", f"{p}_files", ["search_vector"], postgresql_using="gin")
    op.create_index(f"{p}_files_created_at_idx", f"{p}_files", ["created_at"])

    op.create_table(
        f"{p}_wal",
        sa.Column("transaction_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("operation_type", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("file_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("operation_data", pg.JSONB(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("completed_at", tz, nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("transaction_id", name=f"{p}_wal_pkey"),
        sa.CheckConstraint("status IN ('pending', 'committed', 'rolled_back', 'failed')", name=f"{p}_wal_status_check"),
    )
    op.create_index(f"{p}_wal_status_idx", f"{p}_wal", ["status"])
    op.create_index(f"{p}_wal_file_id_idx", f"{p}_wal", ["file_id"])
    op.create_index(f"{p}_wal_started_at_idx", f"{p}_wal", ["started_at"])

    op.create_table(
        f"{p}_config",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("capacity_bytes", sa.BigInteger(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("file_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"{p}_config_pkey"),
        sa.CheckConstraint("id = 1", name=f"{p}_config_singleton_check"),
    )


def downgrade() -> None:
    p = context.config.attributes["prefix"]
    op.drop_table(f"{p}_config")
    op.drop_table(f"{p}_wal")
    op.drop_table(f"{p}_files")
