"""Alembic environment: online only, on the connection and prefix handed over by db/migrate.py."""

from alembic import context

from reference_service.db.tables import build_tables

config = context.config
prefix: str = config.attributes["prefix"]
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=build_tables(prefix).metadata,
    # The version table carries the prefix too, so each SE tracks its own schema version.
    version_table=f"{prefix}_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
